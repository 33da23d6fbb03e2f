"""The `retrovue` command: click groups, and the one place where errors become exit codes."""

from __future__ import annotations

import json
import sys
import traceback

import click

from retrovue.cli.options import INTERRUPTED, Exit, common_options  # noqa: F401 - re-exported
from retrovue.errors import ConfigError, RetrovueError
from retrovue.redact import Redactor


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="retrovue")
def cli() -> None:
    """Keep the media catalogue in line with retrovue.yaml: validate, plan, apply."""


def _register_commands() -> None:
    from retrovue.cli import db as db_commands
    from retrovue.cli import declarative

    cli.add_command(declarative.validate)
    cli.add_command(declarative.plan)
    cli.add_command(declarative.apply)
    cli.add_command(db_commands.db)
    from retrovue.cli import export as export_commands
    from retrovue.cli import lock as lock_commands

    cli.add_command(lock_commands.lock)
    cli.add_command(export_commands.export)
    from retrovue.cli import imperative  # the commands of contracts.md

    imperative.register(cli)


_register_commands()


def _error_document(code: str, message: str, context: dict | None = None) -> dict:
    doc = {"status": "error", "code": code, "message": message}
    if context:
        doc["context"] = context
    return doc


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    json_wanted = "--json" in argv
    debug = "--debug" in argv
    try:
        cli.main(args=argv, prog_name="retrovue", standalone_mode=False)
        code = 0
    except Exit as exc:
        code = exc.code
    except click.exceptions.Abort:
        click.echo("Error: interrupted", err=True)
        code = INTERRUPTED
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        code = 0
    except click.UsageError as exc:
        # contracts §0.3: usage errors exit 1 (never 2), naming the flag
        message = exc.format_message()
        if json_wanted:
            click.echo(json.dumps(_error_document("USAGE_ERROR", message)))
        hint = f"\n{exc.ctx.get_usage()}" if exc.ctx else ""
        click.echo(f"Error: {message}{hint}", err=True)
        code = 1
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except RetrovueError as exc:
        code = report_error(exc, json_wanted, debug)
    except KeyboardInterrupt:
        click.echo("Error: interrupted", err=True)
        code = INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback without --debug
        if debug:
            traceback.print_exc()
        message = Redactor().scrub(f"unexpected error: {type(exc).__name__}: {exc}")
        if json_wanted:
            click.echo(json.dumps(_error_document("INTERNAL_ERROR", message)))
        click.echo(f"Error: {message}", err=True)
        code = 1
    sys.exit(code)


def report_error(exc: RetrovueError, json_wanted: bool, debug: bool) -> int:
    scrub = Redactor().scrub
    if debug:
        traceback.print_exc()
    message = scrub(exc.message)
    context = dict(exc.context)
    if isinstance(exc, ConfigError):
        context["diagnostics"] = [d.to_json() for d in exc.diagnostics]
    if json_wanted:
        click.echo(scrub(json.dumps(_error_document(exc.code, message, context or None))))
    if isinstance(exc, ConfigError):
        click.echo(
            f"Error: invalid config ({len(exc.diagnostics)} problem{'s' if len(exc.diagnostics) != 1 else ''})",
            err=True,
        )
        for d in exc.diagnostics:
            click.echo(f"  {scrub(str(d))}", err=True)
    else:
        click.echo(f"Error: {message}", err=True)
    if exc.hint:
        click.echo(f"  {scrub(exc.hint)}", err=True)
    return exc.exit_code
