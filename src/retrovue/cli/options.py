"""What every command shares: the common options and the exit signal.

Kept apart from ``main`` (which imports every command module) so command modules can import it
without an import cycle.
"""

from __future__ import annotations

import functools

import click

from retrovue.cli.context import AppContext
from retrovue.errors import RetrovueError

INTERRUPTED = 130


class Exit(Exception):
    """Raised by a command that has printed its result and wants a specific exit code."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def common_options(func):
    """--json, --test-db, --db, --debug, --log-format on every command (contracts §0.1)."""

    @click.option("--json", "json_output", is_flag=True, help="Print one JSON document on stdout.")
    @click.option(
        "--test-db", is_flag=True, help="Use the test database (RETROVUE_TEST_DATABASE_URL)."
    )
    @click.option(
        "--db",
        "db_url",
        metavar="URL",
        help="Database URL (else RETROVUE_DATABASE_URL, else the default).",
    )
    @click.option("--debug", is_flag=True, help="Show tracebacks.")
    @click.option("--log-format", type=click.Choice(["text", "json"]), help="Log format on stderr.")
    @functools.wraps(func)
    def wrapper(*args, json_output, test_db, db_url, debug, log_format, **kwargs):
        app = AppContext(
            json_output=json_output,
            test_db=test_db,
            db_url=db_url,
            debug=debug,
            log_format=log_format,
        )
        click.get_current_context().obj = app
        try:
            if test_db:
                app.target  # noqa: B018 - contracts §0.8: refuse a test DB that is production, before anything else
            return func(app, *args, **kwargs)
        except RetrovueError as exc:
            # scrub here, while the secrets this run learnt are still known
            exc.message = app.scrub(exc.message)
            exc.hint = app.scrub(exc.hint) if exc.hint else None
            raise
        finally:
            app.close()

    return wrapper
