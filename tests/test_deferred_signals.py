"""DeferredSignals (issue 17, item 7): Ctrl-C and SIGTERM wait across a commit, then arrive."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from retrovue.execute.deferred_signals import DeferredSignals


def test_a_signal_while_holding_waits_for_release():
    signals = DeferredSignals()
    signals.hold()
    os.kill(os.getpid(), signal.SIGINT)  # Python's own handler would raise KeyboardInterrupt here
    assert signals.holding
    with pytest.raises(KeyboardInterrupt):
        signals.release()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_release_delivers_through_the_handler_that_was_in_force():
    came = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: came.append(signum))
    try:
        signals = DeferredSignals()
        signals.hold()
        os.kill(os.getpid(), signal.SIGTERM)
        assert came == []
        assert signals.release() == signal.SIGTERM
        assert came == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_signal_can_be_reported_instead_of_delivered():
    signals = DeferredSignals()
    signals.hold()
    os.kill(os.getpid(), signal.SIGINT)
    assert signals.release(deliver=False) == signal.SIGINT  # no KeyboardInterrupt


def test_nothing_pending_releases_quietly_and_twice():
    signals = DeferredSignals()
    signals.hold()
    assert signals.release() is None
    assert signals.release() is None
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_off_the_main_thread_holding_changes_no_handler():
    seen = []

    def hold_elsewhere():
        signals = DeferredSignals()
        signals.hold()
        seen.append(signals.holding)

    thread = threading.Thread(target=hold_elsewhere)
    thread.start()
    thread.join()
    assert seen == [False]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _LoopStop:
    """A long-running loop's handler (as `watch`'s): raises mid-work, records after it."""

    def __init__(self) -> None:
        self.raised, self.recorded = [], []

    def __call__(self, signum, _frame) -> None:
        self.raised.append(signum)
        raise RuntimeError("interrupted")

    def after_work(self, signum) -> None:
        self.recorded.append(signum)


def test_a_signal_during_a_lock_release_reaches_a_long_running_loop_without_raising():
    """issue 21: SIGTERM landing while a watch's reconcile released its lock was swallowed (the
    release holds signals and only logged it: "the command had already finished"), so the watch
    ran on and never stopped.  The loop's handler now learns of it through ``after_work``."""
    from retrovue.execute.lock import _release_whole

    class Held:
        def release(self) -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # lands during the release

    handler = _LoopStop()
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        _release_whole(Held(), "watch -c retrovue.yaml")  # does not raise
        assert handler.recorded == [signal.SIGTERM] and handler.raised == []
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_one_shot_commands_handler_is_not_called_for_a_late_signal():
    """A plain handler (the CLI's, which raises) is left alone: the command had finished."""
    from retrovue.execute.deferred_signals import deliver_late

    came = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: came.append(signum))
    try:
        assert deliver_late(signal.SIGTERM) is False and came == []
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_an_error_raised_while_an_interrupt_unwinds_is_taken_for_the_interrupt():
    """A signal raised inside the driver mid-command leaves the connection busy, and the
    rollback on the way out fails: the executor must see the stop, not a failure."""
    from retrovue.errors import TerminatedBySignal
    from retrovue.execute.executor import interrupt_behind

    def unwinding():
        try:
            raise TerminatedBySignal()
        except KeyboardInterrupt:
            raise RuntimeError("another command is already in progress")  # noqa: B904

    try:
        unwinding()
    except RuntimeError as exc:
        assert isinstance(interrupt_behind(exc), TerminatedBySignal)
    assert interrupt_behind(RuntimeError("a plain failure")) is None
