"""Items of one job shared among this process and forked copies of it, each taking the next item
as it becomes free: the loudness enricher's segments of one long programme, on every core.

Processes, not threads: decoding releases the GIL, but the work around it (a filter graph fed
frame by frame, numpy over each block) holds it often enough that two threads on two cores
measured well under twice one's speed.  ``fork`` costs a millisecond and shares what the
process has already imported (PyAV, numpy) and planned (the segments), where a fresh
interpreter would pay for its imports again.

A copy sends its outcomes back pickled over a pipe and leaves with ``os._exit`` (nothing of the
parent's is cleaned up twice).  The kernel kills the copies when this process dies (Linux), so
that a worker the enrichment pool kills for a timeout takes its copies with it.  Where there is
no ``fork`` the items are done here, one after the other.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from retrovue.enrichers.errors import CRASHED, EnrichmentError

_PR_SET_PDEATHSIG = 1
_COUNTER = struct.Struct("q")


@dataclass(frozen=True)
class Outcome:
    value: Any = None
    error: BaseException | None = None


def map_forked(
    fn: Callable[[int, Any], Any],
    items: Sequence[Any],
    workers: int,
    on_failure: Callable[[], None],
) -> list[Outcome]:
    """``fn(worker, item)`` for every item, by this process (worker 0) and ``workers - 1``
    copies of it, each taking the next item when it is free; the outcomes in item order.  An
    exception is an outcome (``error``), and calls ``on_failure()`` in the process it happened
    in (to tell the others to stop: they share whatever ``fn`` shares)."""
    workers = max(1, min(workers, len(items)))
    if workers == 1 or not hasattr(os, "fork"):
        return [_attempt(fn, 0, item, on_failure) for item in items]
    import multiprocessing

    # the next item to take, in memory the copies share; the lock is held for an increment
    counter = mmap.mmap(-1, _COUNTER.size)
    lock = multiprocessing.get_context("fork").Lock()

    def take() -> int | None:
        with lock:
            (index,) = _COUNTER.unpack_from(counter)
            _COUNTER.pack_into(counter, 0, index + 1)
        return index if index < len(items) else None

    def work(worker: int) -> dict[int, Outcome]:
        done = {}
        while (index := take()) is not None:
            done[index] = _attempt(fn, worker, items[index], on_failure)
        return done

    copies = []
    try:
        for worker in range(1, workers):
            copies.append(_fork(work, worker))
        outcomes = work(0)
        died = []
        while copies:
            pid, pipe = copies[0]
            answers, status = _collect(pid, pipe)
            copies.pop(0)
            if answers is None:
                died.append(status)
            else:
                outcomes.update(answers)
    finally:
        for pid, pipe in copies:  # interrupted: stop the copies still running
            _stop(pid, pipe)
    if died:
        raise EnrichmentError(CRASHED, f"a process measuring part of the file died ({died[0]})")
    return [outcomes[i] for i in range(len(items))]


def _attempt(fn, worker: int, item, on_failure) -> Outcome:
    try:
        return Outcome(value=fn(worker, item))
    except Exception as exc:  # noqa: BLE001 - the caller decides which failure counts
        on_failure()
        return Outcome(error=exc)


def _fork(work, worker: int) -> tuple[int, int]:
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the copy: work, answer, leave without running the parent's clean-ups
        code = 1
        try:
            os.close(read_end)
            _die_with(parent)
            with os.fdopen(write_end, "wb") as out:
                out.write(_picklable(work(worker)))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _picklable(outcomes: dict[int, Outcome]) -> bytes:
    try:
        return pickle.dumps(outcomes)
    except Exception:  # noqa: BLE001 - an exception that does not pickle, as a message
        return pickle.dumps(
            {
                i: Outcome(
                    o.value, EnrichmentError(CRASHED, f"{type(o.error).__name__}: {o.error}")
                )
                if o.error is not None
                else o
                for i, o in outcomes.items()
            }
        )


def _collect(pid: int, pipe: int) -> tuple[dict[int, Outcome] | None, str]:
    """(a copy's outcomes, or None when it died without answering; how it ended)."""
    with os.fdopen(pipe, "rb") as answers:
        data = answers.read()
    _pid, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        how = f"signal {os.WTERMSIG(status)}"
    else:
        how = f"exit status {os.waitstatus_to_exitcode(status)}"
    return (pickle.loads(data) if data else None), how


def _stop(pid: int, pipe: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(pipe)


def _die_with(parent: int) -> None:
    """On Linux, have the kernel kill this copy when the process that forked it dies."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(1)
