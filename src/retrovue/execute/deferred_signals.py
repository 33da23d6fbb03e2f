"""Ctrl-C and SIGTERM held back across a commit, so a run's report says what the database holds.

A signal raises its exception at whatever bytecode runs when it lands.  Just after a unit's
COMMIT returned, that made the run report the committed collection as interrupted and rolled
back, and record an ``interrupted`` run row beside its ``ok`` one; during a lock's release it
turned a finished command into "Error: terminated".  Between ``hold()`` and ``release()`` the two
signals are only remembered; ``release()`` puts the handlers back and delivers what came, as the
handler in force would have (the CLI's raises ``TerminatedBySignal``, Python's ``KeyboardInterrupt``;
the default action is re-raised with ``os.kill``).

Handlers belong to the process, so only the main thread can hold them; elsewhere (an embedding
program's worker thread) holding does nothing and its signals stay its own.  Each instance keeps
its own state: nothing here is global.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

STOPPING_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class DeferredSignals:
    def __init__(self) -> None:
        self._saved: dict[int, Any] | None = None
        self._pending: int | None = None

    @property
    def holding(self) -> bool:
        return self._saved is not None

    def hold(self) -> None:
        """Remember SIGINT/SIGTERM instead of acting on them (a no-op when already holding or
        off the main thread)."""
        if self._saved is not None or threading.current_thread() is not threading.main_thread():
            return
        self._pending = None
        self._saved = {s: signal.signal(s, self._remember) for s in STOPPING_SIGNALS}

    def _remember(self, signum: int, _frame: object) -> None:
        if self._pending is None:
            self._pending = signum

    def release(self, deliver: bool = True) -> int | None:
        """Stop holding; the signal that came meanwhile (None: none), delivered unless
        ``deliver`` is False (then the caller reports it)."""
        if self._saved is None:
            return None
        saved, self._saved = self._saved, None
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        pending, self._pending = self._pending, None
        if pending is not None and deliver:
            _deliver(pending, saved[pending])
        return pending


def _deliver(signum: int, handler: Any) -> None:
    if callable(handler):
        handler(signum, None)
    elif handler != signal.SIG_IGN:  # SIG_DFL, or a handler installed outside Python (None)
        os.kill(os.getpid(), signum)


def deliver_late(signum: int) -> bool:
    """A signal that came after the work it would have stopped had finished (a lock's release):
    a one-shot command ends anyway, so raising now would only turn "done" into "terminated";
    a long-running loop (``watch``) must still learn of it.  Its handler says so by having an
    ``after_work(signum)`` method, which records the request without raising.  True when the
    handler in force took it that way."""
    after_work = getattr(signal.getsignal(signum), "after_work", None)
    if callable(after_work):
        after_work(signum)
        return True
    return False


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name
