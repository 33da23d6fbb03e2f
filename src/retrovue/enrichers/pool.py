"""Run an enricher over many inputs in a small pool of worker processes.

A crash in native code (a demuxer bug, ``os.abort()`` in a plugin) or a hang fails the one input
it happened on, never the run: the worker is replaced and the inputs queued behind it go to the
next one.  Each worker answers every input as soon as it is done, in the order it was given them,
so the parent always knows which input a worker is on and how long it has been on it.

Outcomes are yielded in **completion order** (not input order); each carries its asset id and
change token, so a caller stores them as they come.  ``run_enrichment_rounds`` yields them in a
list each time the pool looks at its workers, an empty one when nothing finished, so that a
caller can act on time (commit what it holds) while a slow file is still being worked on.  Inputs
are read lazily from the iterable and sent in batches sized to about 20 ms of work per worker,
which amortises the IPC on small files without leaving one worker with a queue of feature films
at the end of a run.

Workers are fresh interpreters (``subprocess``, spawn semantics) speaking
``multiprocessing.connection`` over a socket pair, not ``multiprocessing`` children: the
``spawn`` and ``forkserver`` contexts re-import the parent's ``__main__``, which for the CLI costs
about a second per worker start and per replacement (0.2 s this way), and ``forkserver``'s preload
list is process-wide state.  See ``worker.py`` for the protocol.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sized
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from retrovue.enrichers.base import BaseEnricher, EnrichInput, resolve_params
from retrovue.enrichers.errors import CRASHED, TIMEOUT, EnricherStartError
from retrovue.enrichers.registry import EnricherRegistry, load_registry
from retrovue.enrichers.worker import BOOTSTRAP

#: work a worker should have queued, in seconds: enough to hide the round trip for a new batch
TARGET_QUEUE_S = 0.02
#: the per-input time assumed before any input has finished
INITIAL_ESTIMATE_S = 0.01
#: a worker that has not constructed its enricher by then fails the run
START_TIMEOUT_S = 60.0
#: how often the parent looks for a dead worker whose socket a leftover grandchild keeps open
LIVENESS_CHECK_S = 0.5
_END = object()


@dataclass(frozen=True)
class EnrichOutcome:
    """What one input came to: facts (``data``) or a failure (``error_code``, ``error_message``)."""

    asset_id: str
    change_token: str | None
    enricher: str  # the type id
    version: int | str
    data: dict[str, Any] | None
    error_code: str | None
    error_message: str | None
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return self.error_code is None


def run_enrichment(
    enricher_type_id: str,
    params: Mapping[str, Any] | None,
    inputs: Iterable[EnrichInput],
    *,
    workers: int | None = None,
    timeout_s: float | None = None,
    batch_size: int = 32,
    registry: EnricherRegistry | None = None,
) -> Iterator[EnrichOutcome]:
    """Enrich every input with the enricher ``enricher_type_id``; yield outcomes as they finish.

    ``workers`` defaults to one per core (``os.cpu_count()``), ``timeout_s`` to the enricher's
    ``default_timeout_s`` (per input), ``registry`` to the built-ins plus plugins.  The type, the
    parameters and the arguments are checked here, before any process starts: an unknown or
    unavailable type raises EnricherUnavailableError, bad parameters EnricherParamsError.  While
    iterating, EnricherStartError means the enricher could not be constructed in a worker.
    Closing the iterator early stops the workers.
    """
    rounds = run_enrichment_rounds(
        enricher_type_id,
        params,
        inputs,
        workers=workers,
        timeout_s=timeout_s,
        batch_size=batch_size,
        registry=registry,
    )
    return _flatten(rounds)


def run_enrichment_rounds(
    enricher_type_id: str,
    params: Mapping[str, Any] | None,
    inputs: Iterable[EnrichInput],
    *,
    workers: int | None = None,
    timeout_s: float | None = None,
    batch_size: int = 32,
    registry: EnricherRegistry | None = None,
) -> Iterator[list[EnrichOutcome]]:
    """``run_enrichment``'s outcomes, in a list each time the pool looks at its workers: at
    least every ``LIVENESS_CHECK_S`` while any input is in flight, empty when nothing finished.
    Checked and stopped as ``run_enrichment`` is."""
    registry = registry if registry is not None else load_registry()
    enricher_cls = registry.require_available(enricher_type_id)
    resolved = resolve_params(enricher_cls.param_spec(), params or {})
    workers = workers if workers is not None else (os.cpu_count() or 1)
    timeout_s = timeout_s if timeout_s is not None else float(enricher_cls.default_timeout_s)
    if workers < 1 or batch_size < 1 or not timeout_s > 0:
        raise ValueError("workers and batch_size must be at least 1 and timeout_s positive")
    if isinstance(inputs, Sized) and len(inputs):
        # a process costs ~0.1-0.2 s to start (PyAV, numpy): none is started with nothing to do
        workers = min(workers, len(inputs))
    run = _Run(enricher_cls, resolved, workers, timeout_s, batch_size)
    return run.rounds(iter(inputs))


def _flatten(rounds: Iterator[list[EnrichOutcome]]) -> Iterator[EnrichOutcome]:
    try:
        for done in rounds:
            yield from done
    finally:
        rounds.close()  # closing this generator stops the workers at once


@dataclass
class _Worker:
    process: subprocess.Popen
    conn: Connection
    started_at: float
    ready: bool = False
    #: inputs sent and not answered yet, in the order the worker takes them
    in_flight: deque[EnrichInput] = field(default_factory=deque)
    #: when the worker started on in_flight[0] (its previous answer, or the send to an idle one)
    since: float = 0.0


class _Run:
    def __init__(
        self,
        enricher_cls: type[BaseEnricher],
        params: dict[str, Any],
        workers: int,
        timeout_s: float,
        batch_size: int,
    ):
        self.cls = enricher_cls
        self.params = params
        self.size = workers
        self.timeout_s = timeout_s
        self.batch_size = batch_size
        self.estimate_s = INITIAL_ESTIMATE_S
        #: inputs taken back from a worker that died, served before new ones (in their order)
        self.retry: deque[EnrichInput] = deque()
        self.source: Iterator[EnrichInput] | None = None

    # -- the loop ---------------------------------------------------------------------------

    def rounds(self, source: Iterator[EnrichInput]) -> Iterator[list[EnrichOutcome]]:
        first = next(source, _END)
        if first is _END:
            return  # no process is started for nothing
        self.retry.append(first)
        self.source = source
        workers: list[_Worker] = []
        try:
            for _ in range(self.size):
                workers.append(self._spawn())
            while True:
                for worker in workers:
                    self._dispatch(worker)
                if self.source is None and not self.retry and not any(w.in_flight for w in workers):
                    return
                done: list[EnrichOutcome] = []
                woke = set(wait([w.conn for w in workers], timeout=self._next_wake(workers)))
                for index, worker in enumerate(workers):
                    # a dead worker's socket still holds its last answers, then EOF
                    gone = worker.conn in woke and not self._receive(worker, done)
                    if gone or worker.process.poll() is not None:
                        self._receive(worker, done)
                        self._fail_crashed(worker, done)
                        workers[index] = self._spawn()
                    elif self._fail_overdue(worker, done):
                        workers[index] = self._spawn()
                yield done
        finally:
            # all asked first, then all reaped: their interpreter shutdowns overlap
            for worker in workers:
                self._ask_to_stop(worker)
            for worker in workers:
                self._kill(worker, grace_s=2.0)

    def _next_wake(self, workers: list[_Worker]) -> float:
        now = time.monotonic()
        deadlines = [w.since + self.timeout_s for w in workers if w.in_flight]
        deadlines += [w.started_at + START_TIMEOUT_S for w in workers if not w.ready]
        return max(0.0, min([now + LIVENESS_CHECK_S, *deadlines]) - now)

    # -- one worker -------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        ours, theirs = socket.socketpair()
        with ours, theirs:
            process = subprocess.Popen(
                # -I: nothing in the working directory shadows the modules the bootstrap imports
                [sys.executable, "-I", "-c", BOOTSTRAP, str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                # stdout may be a --json document: whatever a plugin prints goes to stderr
                stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else subprocess.DEVNULL,
            )
            # the parent keeps only its end, so the worker's death reads as EOF
            conn = Connection(ours.detach())
        worker = _Worker(process, conn, started_at=time.monotonic())
        try:
            conn.send(list(sys.path))
            conn.send((self.cls, self.params))
        except OSError:
            pass  # it died at once; the loop finds it dead and says how
        return worker

    def _dispatch(self, worker: _Worker) -> None:
        """Top up a ready worker's queue to about 2 × TARGET_QUEUE_S of work."""
        if not worker.ready:
            return
        want = max(1, min(2 * self.batch_size, math.ceil(2 * TARGET_QUEUE_S / self.estimate_s)))
        room = want - len(worker.in_flight)
        if room < max(1, want // 2):
            return
        batch = self._take(min(room, self.batch_size))
        if not batch:
            return
        try:
            worker.conn.send(batch)
        except OSError:
            # it died since the last look: these never reached it, and the loop blames the
            # input it was really on
            self.retry.extendleft(reversed(batch))
            return
        if not worker.in_flight:
            worker.since = time.monotonic()
        worker.in_flight.extend(batch)

    def _take(self, count: int) -> list[EnrichInput]:
        batch: list[EnrichInput] = []
        while self.retry and len(batch) < count:
            batch.append(self.retry.popleft())
        while self.source is not None and len(batch) < count:
            item = next(self.source, _END)
            if item is _END:
                self.source = None
            else:
                batch.append(item)
        return batch

    def _receive(self, worker: _Worker, done: list[EnrichOutcome]) -> bool:
        """Read every message the worker has sent; False when it is gone."""
        if worker.conn.closed:
            return False
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if message[0] == "done":
                    done.append(self._answered(worker, message))
                elif message[0] == "ready":
                    worker.ready = True
                elif message[0] == "start_failed":
                    raise EnricherStartError(
                        f"Enricher '{self.cls.type_id}' could not be started: {message[1]}"
                    )
        except (EOFError, OSError):
            return False
        return True

    def _answered(self, worker: _Worker, message: tuple) -> EnrichOutcome:
        _, asset_id, data, code, text, elapsed = message
        item = worker.in_flight.popleft()
        if item.asset_id != asset_id:  # the protocol keeps order; anything else is a bug here
            raise RuntimeError(f"worker answered {asset_id!r} while on {item.asset_id!r}")
        worker.since = time.monotonic()
        self.estimate_s = 0.8 * self.estimate_s + 0.2 * max(elapsed, 1e-5)
        return self._outcome(item, data, code, text, elapsed)

    def _fail_overdue(self, worker: _Worker, done: list[EnrichOutcome]) -> bool:
        """Stop a worker past its deadline, failing the input it is on; True if it was."""
        now = time.monotonic()
        if not worker.ready and now - worker.started_at > START_TIMEOUT_S:
            raise EnricherStartError(
                f"Enricher '{self.cls.type_id}' did not start within {START_TIMEOUT_S:.0f} s"
            )
        if not worker.in_flight or now - worker.since <= self.timeout_s:
            return False
        # killed before anything else is read from it, so a late answer cannot be misattributed
        self._kill(worker)
        item = worker.in_flight.popleft()
        message = f"no result within {self.timeout_s:g} s; the worker was stopped"
        done.append(self._outcome(item, None, TIMEOUT, message, now - worker.since))
        self.retry.extendleft(reversed(worker.in_flight))
        return True

    def _fail_crashed(self, worker: _Worker, done: list[EnrichOutcome]) -> None:
        """A worker died: fail the input it was on and take back the ones queued behind it."""
        self._kill(worker)
        if not worker.ready:
            raise EnricherStartError(
                f"Enricher '{self.cls.type_id}' could not be started: the worker "
                f"{_exit_description(worker.process.returncode)} before it was ready"
            )
        if worker.in_flight:
            item = worker.in_flight.popleft()
            message = f"the worker {_exit_description(worker.process.returncode)} on this file"
            elapsed = time.monotonic() - worker.since
            done.append(self._outcome(item, None, CRASHED, message, elapsed))
        self.retry.extendleft(reversed(worker.in_flight))

    def _outcome(self, item: EnrichInput, data, code, text, elapsed: float) -> EnrichOutcome:
        return EnrichOutcome(
            asset_id=item.asset_id,
            change_token=item.change_token,
            enricher=self.cls.type_id,
            version=self.cls.version,
            data=data,
            error_code=code,
            error_message=text,
            elapsed_s=elapsed,
        )

    def _ask_to_stop(self, worker: _Worker) -> None:
        """An idle worker is told to exit; one still holding work is killed at once."""
        if worker.process.poll() is None and worker.ready and not worker.in_flight:
            try:
                worker.conn.send(None)
                return
            except OSError:
                pass
        self._kill(worker)

    def _kill(self, worker: _Worker, *, grace_s: float = 0.0) -> None:
        if grace_s and worker.process.poll() is None:
            # its socket reads EOF as it exits: waited on, not polled like Popen.wait(timeout)
            wait([worker.conn], timeout=grace_s)
            try:
                worker.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                pass
        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()
        worker.conn.close()


def _has_fileno(stream) -> bool:
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def _exit_description(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"
