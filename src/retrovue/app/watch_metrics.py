"""`watch --metrics HOST:PORT`: Prometheus metrics and ``/healthz`` of one watch.

Each ``WatchMetrics`` has a ``CollectorRegistry`` of its own, never prometheus_client's global
one: two watches in one process (tests, an embedding program) export their own numbers.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)


class WatchMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.reconciles = Counter(
            "retrovue_watch_reconciles",
            "Reconciles run, by source, trigger and outcome",
            ["source", "trigger", "outcome"],
            registry=r,
        )
        self.errors = Counter(
            "retrovue_watch_errors",
            "Errors the watch reported (a reconcile that failed, an invalid config, a "
            "watcher that stopped, the database unreachable)",
            ["kind"],
            registry=r,
        )
        self.event_lag = Histogram(
            "retrovue_watch_event_lag_seconds",
            "From a file event to the end of the reconcile that took it in",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.pending_events = Gauge(
            "retrovue_watch_pending_events",
            "Files seen changing and not yet complete, plus collections waiting to be reconciled",
            registry=r,
        )
        self.assets = Gauge(
            "retrovue_assets",
            "Assets by source, collection and state (missing apart)",
            ["source", "collection", "state"],
            registry=r,
        )
        self.backlog = Gauge(
            "retrovue_enrichment_backlog",
            "Present assets not ready yet (still to enrich), by source",
            ["source"],
            registry=r,
        )
        self.last_reconcile = Gauge(
            "retrovue_watch_last_reconcile_timestamp_seconds",
            "When each source was last reconciled (Unix time)",
            ["source"],
            registry=r,
        )
        self.healthy = True
        self.health_detail = "starting"
        self.last_loop = time.monotonic()

    def set_assets(self, rows) -> None:
        """rows: (source, collection, state, count); replaces the previous values."""
        self.assets.clear()
        self.backlog.clear()
        backlog: dict[str, int] = {}
        for source, collection, state, count in rows:
            self.assets.labels(source, collection, state).set(count)
            if state in ("new", "enriching"):
                backlog[source] = backlog.get(source, 0) + count
        for source, count in backlog.items():
            self.backlog.labels(source).set(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class MetricsServer:
    """Serves ``/metrics`` and ``/healthz`` from a thread until ``close``."""

    def __init__(self, metrics: WatchMetrics, host: str, port: int) -> None:
        handler = _handler_for(metrics)
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="watch metrics", daemon=True
        )

    @property
    def address(self) -> tuple[str, int]:
        return self.server.server_address[:2]

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def _handler_for(metrics: WatchMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
            if self.path.split("?")[0] == "/metrics":
                self._send(200, metrics.exposition(), CONTENT_TYPE_LATEST)
            elif self.path.split("?")[0] == "/healthz":
                code = 200 if metrics.healthy else 503
                body = ("ok" if metrics.healthy else f"unhealthy: {metrics.health_detail}") + "\n"
                self._send(code, body.encode(), "text/plain; charset=utf-8")
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:  # scrapes are not news
            return None

    return Handler
