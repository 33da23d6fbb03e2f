"""`retrovue watch -c retrovue.yaml [--metrics HOST:PORT]`: reconcile continuously."""

from __future__ import annotations

import signal

import click

from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.errors import TerminatedBySignal, UsageError
from retrovue.model.enums import Outcome


@click.command()
@click.option(
    "-c",
    "--config",
    "config_file",
    metavar="FILE",
    help="Config file (else $RETROVUE_CONFIG, else ./retrovue.yaml); re-read when it changes and on SIGHUP.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a reconcile waits for another writer of its sources (then retried later).",
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=0.5,
    show_default=True,
    metavar="SECONDS",
    help="A file counts once its size and mtime held still this long.",
)
@click.option(
    "--claim-lease",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="How long this watch's claim on its sources outlives it if it dies without letting go "
    "(another watch of them is refused until then).",
)
@click.option(
    "--metrics",
    "metrics_at",
    metavar="HOST:PORT",
    help="Serve Prometheus metrics on /metrics and a health check on /healthz.",
)
@click.option(
    "--serve",
    "serve_at",
    metavar="HOST:PORT",
    help="Also serve the web view and API (as `retrovue serve --bind`; tokens from the "
    "environment).",
)
@common_options
def watch(
    console: Console,
    config_file,
    lock_timeout: float,
    settle: float,
    claim_lease: float,
    metrics_at: str | None,
    serve_at: str | None,
) -> Outcome:
    """Keep the catalogue in line continuously: reconcile on file events, on an interval and on
    config edits. SIGTERM/SIGINT stop it cleanly (exit 0)."""
    from retrovue.app.watch import Watch, WatchOptions

    metrics = server = web = None
    if metrics_at:
        from retrovue.app.watch_metrics import MetricsServer, WatchMetrics

        host, port = _address(metrics_at)
        metrics = WatchMetrics()
        try:
            server = MetricsServer(metrics, host, port).start()
        except OSError as exc:
            raise UsageError(f"--metrics {metrics_at}: cannot listen there: {exc}") from exc
        console.err(f"metrics on http://{host}:{server.address[1]}/metrics")
    if serve_at:
        web = _web(console, serve_at, config_file)
    options = WatchOptions(
        config_file, lock_timeout=lock_timeout, settle=settle, claim_lease=claim_lease
    )
    # what the watch does is its log (structlog; --log-format json for a service), shown from
    # info up unless -q/-v or RETROVUE_LOG_LEVEL chose otherwise
    the_watch = Watch(console.ctx, options, metrics=metrics)
    previous = _install_signals(the_watch)
    try:
        with _logging(console).active():
            return the_watch.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if server is not None:
            server.close()
        if web is not None:
            web.close()


def _web(console: Console, bind: str, config_file: str | None):
    """The web view in a thread of this process: its requests get contexts of their own."""
    import os

    from retrovue.web.background import BackgroundServer
    from retrovue.web.settings import settings_for

    ctx = console.ctx
    settings = settings_for(
        bind,
        db_url=ctx.db_url,
        test_db=ctx.test_db,
        config_file=config_file,
        token_file=None,
        env=os.environ,
    )
    try:
        web = BackgroundServer(settings).start()
    except OSError as exc:
        raise UsageError(f"--serve {bind}: cannot serve there: {exc}") from exc
    console.err(f"web view on http://{bind}/")
    return web


def _logging(console: Console):
    import dataclasses
    import os

    from retrovue.logs import level_number

    params = click.get_current_context().params
    chosen = params.get("quiet") or params.get("verbose") or os.environ.get("RETROVUE_LOG_LEVEL")
    settings = console.ctx.logging
    return settings if chosen else dataclasses.replace(settings, level=level_number("info"))


def _install_signals(the_watch) -> dict:
    """SIGTERM/SIGINT end the loop (exit 0): between reconciles at once; during one, the unit in
    progress rolls back as apply's does.  SIGHUP re-reads the config."""

    class Stop:
        """Ends the loop; interrupts a reconcile in progress (raising), except for a signal
        that came as a reconcile's work was already done (``after_work``: its lock's release)."""

        def __call__(self, _signum, _frame) -> None:
            if the_watch.stop():
                raise TerminatedBySignal()

        def after_work(self, _signum) -> None:
            the_watch.stop()

    stop = Stop()

    def hup(_signum, _frame) -> None:
        the_watch.reload("SIGHUP")

    previous = {}
    for signum, handler in (
        (signal.SIGTERM, stop),
        (signal.SIGINT, stop),
        (signal.SIGHUP, hup),
    ):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise UsageError(f"--metrics {text}: expected HOST:PORT, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "127.0.0.1", int(port)
