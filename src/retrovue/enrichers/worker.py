"""The worker side of the enrichment pool: one process, one enricher, inputs in batches.

A worker is a fresh interpreter running ``BOOTSTRAP`` (not a ``multiprocessing`` child: that would
re-import the parent's ``__main__``, which for the CLI is every command and SQLAlchemy, a second
per worker start and per replacement).  It talks to the parent over one socket, with
``multiprocessing.connection`` framing:

parent → worker: the parent's ``sys.path``; ``(enricher class, params)``; then lists of
``EnrichInput`` (``None`` to stop).
worker → parent:
- ``("ready",)`` once the enricher is constructed;
- ``("start_failed", reason)`` when it could not be, after which the worker exits;
- ``("done", asset_id, data, code, message, elapsed_s)`` per input, in input order, as soon as it
  is done, so that when the process dies or hangs the parent knows which input it was on.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time
from collections import deque
from typing import Any

from retrovue.enrichers.base import BaseEnricher, EnrichInput
from retrovue.enrichers.errors import PLUGIN_ERROR, EnrichmentError

#: run as ``python -c BOOTSTRAP <socket fd> <parent pid>``.  Ctrl-C reaches the whole process
#: group, so it is ignored first thing: the parent decides, and stops its workers itself.  The
#: parent's sys.path comes before any import of retrovue, so that the worker imports the same
#: code (and plugins) the parent does.
BOOTSTRAP = (
    "import signal; signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    "import sys\n"
    "from multiprocessing.connection import Connection\n"
    "conn = Connection(int(sys.argv[1]))\n"
    "sys.path[:] = conn.recv()\n"
    "from retrovue.enrichers.worker import serve\n"
    "serve(conn, int(sys.argv[2]))\n"
)

_PR_SET_PDEATHSIG = 1


def serve(conn, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    try:
        enricher_cls, params = conn.recv()
        enricher_cls.prepare_worker()
        enricher = enricher_cls(params)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the run
        conn.send(("start_failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready",))
    queue: deque[EnrichInput] = deque()
    while True:
        try:
            # batches are read as they come, not only when idle: left in the socket they could
            # fill it, and a parent blocked sending to a worker blocked sending to it deadlocks
            while not queue or conn.poll():
                batch = conn.recv()
                if batch is None:
                    return
                queue.extend(batch)
        except EOFError:  # the parent is gone
            return
        conn.send(enrich_one(enricher, queue.popleft()))


def _die_with_parent(parent_pid: int) -> None:
    """On Linux, have the kernel kill this worker when the parent dies: an idle worker would see
    EOF and leave, but one stuck in a hung demuxer would otherwise run on for ever.  (The kernel
    watches the parent *thread* that started the worker: a run is driven from one thread.)"""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def enrich_one(enricher: BaseEnricher, item: EnrichInput) -> tuple:
    started = time.perf_counter()
    try:
        data = enricher.enrich(item)
        problem = storable_problem(data)
    except EnrichmentError as exc:
        return ("done", item.asset_id, None, exc.code, exc.message, time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - a plugin's bug fails its file, not the run
        message = f"{type(exc).__name__}: {exc}"
        return ("done", item.asset_id, None, PLUGIN_ERROR, message, time.perf_counter() - started)
    elapsed = time.perf_counter() - started
    if problem is not None:
        return ("done", item.asset_id, None, PLUGIN_ERROR, problem, elapsed)
    return ("done", item.asset_id, data, None, None, elapsed)


def storable_problem(data: Any) -> str | None:
    """Why ``data`` cannot be stored as a JSON document, or None when it can."""
    if not isinstance(data, dict):
        return f"enrich() returned {type(data).__name__}, not a dict"
    try:
        # NaN and infinities are not JSON, and PostgreSQL's jsonb refuses them
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return f"enrich() returned data that is not JSON-serialisable: {exc}"
    return None
