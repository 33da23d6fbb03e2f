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
