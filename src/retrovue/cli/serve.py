"""`retrovue serve [--bind 127.0.0.1:8765]`: the JSON API and the web view (retrovue.web)."""

from __future__ import annotations

import os

import click

from retrovue.web.settings import DEFAULT_BIND, settings_for

#: no access log (the server logs its own warnings); Uvicorn's C parts, httptools and uvloop
#: (dependencies; "auto" falls back to h11 and asyncio's loop where uvloop has no build, Windows).
#: With /api/v1/assets' pages read on the event loop they carry 20-30% more pages a second
#: (two workers, PostgreSQL, 20 clients, alternating runs: 940-957 against 663-772; p95 40-44
#: against 50-54 ms); while every page hopped to the thread pool they made no difference
SPEED = {"http": "auto", "loop": "auto", "access_log": False, "log_level": "warning"}


@click.command()
@click.option(
    "--bind",
    default=DEFAULT_BIND,
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen; any address but loopback needs a token.",
)
@click.option(
    "--token-file",
    metavar="FILE",
    help="Tokens: RETROVUE_API_TOKEN=… / RETROVUE_API_TOKEN_READONLY=… lines (else from the "
    "environment).",
)
@click.option(
    "-c", "--config", "config_file", metavar="FILE", help="Config file the plan page plans."
)
@click.option("--test-db", is_flag=True, help="Use the test database (RETROVUE_TEST_DATABASE_URL).")
@click.option("--db", "db_url", metavar="URL", help="Database URL (else RETROVUE_DATABASE_URL).")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes on the address, each with a socket of its own that the kernel gives "
    "connections to: one uses one core (Python runs one thread at a time); give the machine's "
    "cores to use them all.",
)
def serve(
    bind: str, token_file: str | None, config_file, test_db: bool, db_url, workers: int
) -> None:
    """Serve the JSON API (/api/v1, OpenAPI at /api/v1/openapi.json) and the web view."""
    import uvicorn

    from retrovue.web.app import create_app
    from retrovue.web.workers import settle_heap

    settings = settings_for(
        bind,
        db_url=db_url,
        test_db=test_db,
        config_file=config_file,
        token_file=token_file,
        env=os.environ,
    )
    click.echo(f"retrovue serving on http://{bind}/", err=True)
    if workers == 1:
        app = create_app(settings)
        settle_heap()
        uvicorn.run(app, host=settings.host, port=settings.port, **SPEED)
        return
    # created and migrated here if new, once: workers opening a new database at once would each
    # try to migrate it
    from retrovue.app.context import Context
    from retrovue.web.workers import serve_workers

    opening = Context(test_db=test_db, db_url=db_url)
    try:
        opening.engine  # noqa: B018 - opening is the point
    finally:
        opening.close()
    serve_workers(settings, workers, SPEED)
