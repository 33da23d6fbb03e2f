"""``serve --workers N``: N server processes, each accepting on a listening socket of its own
bound to the same address (``SO_REUSEPORT``), so the kernel spreads connections across them.

Uvicorn's own workers share one socket, and the worker woken first for a burst of connections
accepts every one waiting (asyncio accepts up to the backlog per wake-up): 20 keep-alive clients
all landed on one of two workers, the other idle (measured with ``ss``; with a socket each: 12
and 8).  A client that keeps its connection open stays with its worker, as with any
connection-level balancing.

The supervisor restarts a worker that dies after it has served, stops every worker on SIGTERM or
SIGINT, and gives up (``ServerFailedError``) when one cannot start.
"""

from __future__ import annotations

import gc
import multiprocessing
import signal
import socket
import threading
import time
from contextlib import ExitStack

from retrovue.errors import ServerFailedError, UsageError
from retrovue.logs import get_logger
from retrovue.web.settings import ServeSettings

log = get_logger("retrovue.serve")

#: how long a stopped worker has to finish its requests before it is killed
STOP_SECONDS = 10.0


def serve_workers(settings: ServeSettings, count: int, options: dict) -> None:
    """Runs ``count`` workers on the settings' address until SIGTERM or SIGINT."""
    _refuse_taken(settings.host, settings.port)
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no state of this one
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    with ExitStack() as cleanup:
        for sig, handler in previous.items():
            cleanup.callback(signal.signal, sig, handler)
        sockets = [
            cleanup.enter_context(_listening(settings.host, settings.port)) for _ in range(count)
        ]
        # each worker's open connections, shared (no lock: a count read a moment late only
        # delays a reconnect)
        loads = spawn.Array("i", count, lock=False)
        workers = [
            _Worker(spawn, settings, sock, options, FairShare(loads, index))
            for index, sock in enumerate(sockets)
        ]
        cleanup.callback(_stop_all, workers)
        while not stop.wait(0.5):
            for worker in workers:
                if not worker.process.is_alive():
                    worker.restart_or_fail()


class _Worker:
    def __init__(self, spawn, settings, sock: socket.socket, options: dict, share: FairShare):
        self.spawn, self.settings, self.sock, self.options = spawn, settings, sock, options
        self.share = share
        self.start()

    def start(self) -> None:
        self.serving = self.spawn.Event()
        # the settings (tokens included) go to the child through multiprocessing's pipe, never
        # through its environment or command line
        self.process = self.spawn.Process(
            target=_run_worker,
            args=(self.settings, self.sock, self.options, self.serving, self.share),
        )  # not a daemon: a worker may start processes of its own (an enrichment pool)
        self.process.start()

    def restart_or_fail(self) -> None:
        code = self.process.exitcode
        if not self.serving.is_set():  # it would fail the same way again
            raise ServerFailedError(
                f"A server worker exited with code {code} as it started",
                hint="Run `retrovue serve` without --workers to see why.",
            )
        log.warning("server worker exited; starting another", exit_code=code)
        self.start()


def _run_worker(settings, sock: socket.socket, options: dict, serving, share: FairShare) -> None:
    """One worker process: its app, served by Uvicorn on its own socket; ``serving`` is set once
    Uvicorn has started it."""
    import uvicorn

    from retrovue.web.app import create_app

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the supervisor tells it when (SIGTERM)
    server = uvicorn.Server(uvicorn.Config(share.app(create_app(settings)), **options))
    settle_heap()
    threading.Thread(target=_watch, args=(server, serving, share), daemon=True).start()
    server.run(sockets=[sock])


class FairShare:
    """Asks a client to reconnect (``Connection: close`` on a response) while this worker holds
    more than its share of the open connections.  The kernel hashes each new connection to one
    worker's socket and a keep-alive client stays where it landed: 20 clients split 13 and 7 now
    and then, and the busier worker's clients waited longer (20 wrk connections: p95 98 ms where
    an even split gave 55).  A client asked to reconnect lands on a socket by the hash again, so
    the split evens out within a few responses and then no one is asked (HTTP/1.1 clients
    reconnect by themselves; a proxy's pool does too)."""

    def __init__(self, loads, index: int):
        self.loads, self.index = loads, index
        self.asked = 0  # clients asked to reconnect since the last count

    def count(self, open_connections: int) -> None:
        self.loads[self.index] = open_connections
        self.asked = 0

    def over(self) -> bool:
        """Whether this worker holds more than its share (the mean, rounded up); if so, the
        client asked now is counted gone at once, so the responses until the next count do
        not all ask."""
        loads = self.loads[:]
        mine = loads[self.index] - self.asked
        if mine * len(loads) <= sum(loads) + len(loads) - 1:
            return False
        self.asked += 1
        return True

    def app(self, app):
        """``app`` whose responses ask to reconnect while this worker is ``over`` its share."""

        async def sharing(scope, receive, send):
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def send_sharing(message):
                if message["type"] == "http.response.start" and self.over():
                    message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
                await send(message)

            await app(scope, receive, send_sharing)

        return sharing


def settle_heap() -> None:
    """Moves what a server process holds once started (modules, its app) out of the garbage
    collector's reach, for a process that does nothing else.  A page of 100 assets makes ~2,000
    objects, so the collector ran often, and each full collection walked every object of the
    interpreter, the GIL held: 20 clients' p95 70-100 ms -> 52-70 ms at 500 requests/s
    (PostgreSQL, two workers, measured)."""
    gc.collect()
    gc.freeze()


def _watch(server, serving, share: FairShare) -> None:
    """Sets ``serving`` once Uvicorn has started, then counts the worker's open connections for
    ``share`` every 50 ms."""
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.started:
        serving.set()
    while not server.should_exit:
        share.count(len(server.server_state.connections))
        time.sleep(0.05)


def _stop_all(workers: list[_Worker]) -> None:
    for worker in workers:
        if worker.process.is_alive():
            worker.process.terminate()  # SIGTERM: Uvicorn finishes the requests under way
    deadline = time.monotonic() + STOP_SECONDS
    for worker in workers:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _refuse_taken(host: str, port: int) -> None:
    """Refuses an address something already listens on, another ``serve --workers`` included:
    sockets that all set ``SO_REUSEPORT`` would share it silently, so this probe sets none."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not taken
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None


def _listening(host: str, port: int) -> socket.socket:
    # IPPROTO_TCP named, not 0: asyncio turns Nagle's algorithm off only on connections of a
    # socket that says TCP (``_set_nodelay``); with Nagle on, a response's body waited for the
    # client's delayed ACK of its headers, 40 ms a request (measured: p50 3.8 -> 44 ms, one client)
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock
