"""The options every command shares, and the wrapper that turns them into a Console; and the
ones several commands share."""

from __future__ import annotations

import functools

import click

from retrovue.app.context import Context
from retrovue.cli.console import Console, use_color
from retrovue.errors import RetrovueError

#: plan, apply and the ingest commands
mass_missing_option = click.option(
    "--allow-mass-missing", is_flag=True, help="Mark assets missing even above the threshold."
)


def common_options(func):
    """--json, --test-db, --db, --debug, --log-format, --no-color, -q/-v on every command.

    The wrapped command gets a :class:`Console` first and returns how it ended (an ``Outcome``,
    or None); a typed error is reported here, while the secrets this run learnt are still
    known, and handed to ``main`` as the command's result for its exit code.
    """

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
    @click.option("--no-color", is_flag=True, help="No colour (also NO_COLOR, or not a terminal).")
    @click.option("-q", "--quiet", is_flag=True, help="Log errors only.")
    @click.option(
        "-v", "--verbose", count=True, help="Log info (-vv: debug); else RETROVUE_LOG_LEVEL."
    )
    @functools.wraps(func)
    def wrapper(
        *args, json_output, test_db, db_url, debug, log_format, no_color, quiet, verbose, **kwargs
    ):
        from retrovue.logs import log_settings
        from retrovue.redact import Redactor
        from retrovue.render.progress import progress_factory

        redactor = Redactor()
        logging = log_settings(
            log_format, redactor.scrub, level=flag_level(quiet, verbose), no_color=no_color
        )
        ctx = Context(
            test_db=test_db,
            db_url=db_url,
            redactor=redactor,
            progress=progress_factory(),
            logging=logging,
        )
        console = Console(ctx, json_output=json_output, debug=debug, color=use_color(no_color))
        click.get_current_context().obj = console
        with logging.active():
            return _run_command(func, console, test_db, args, kwargs)

    return wrapper


def _run_command(func, console: Console, test_db: bool, args, kwargs):
    """The command, its typed errors reported while the secrets it learnt are still known."""
    ctx = console.ctx
    try:
        if test_db:
            ctx.target  # noqa: B018 - refuse a test database that is production, before anything else
        return func(console, *args, **kwargs)
    except RetrovueError as exc:
        console.report(exc)
        return exc
    except Exception as exc:
        typed = ctx.typed_error(exc)  # a database failure: one line, details with --debug
        if typed is None:
            raise
        console.report(typed)
        return typed
    finally:
        ctx.close()


def flag_level(quiet: bool, verbose: int) -> str | None:
    """The log level -q/-v ask for; None leaves it to RETROVUE_LOG_LEVEL (the flags win)."""
    if quiet:
        return "error"
    if verbose:
        return "info" if verbose == 1 else "debug"
    return None
