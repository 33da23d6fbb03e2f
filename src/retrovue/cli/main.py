"""The `retrovue` command: click groups, and the one place where a run becomes an exit code."""

from __future__ import annotations

import importlib
import json
import signal
import sys

import click
from click.shell_completion import add_completion_class

from retrovue.cli.complete import QuotedBashComplete
from retrovue.cli.console import report_error
from retrovue.cli.exit_codes import exit_code
from retrovue.errors import InterruptedByOperator, RetrovueError, TerminatedBySignal
from retrovue.redact import Redactor
from retrovue.render.errors import error_document

#: name -> (module, attribute, one-line help).  Commands are imported only when they run, so
#: `retrovue --version`, `--help` and completion do not pay for the ORM, Alembic or a media server's client library.
#: tests/test_fast_start.py keeps the help texts equal to the commands' own.
COMMANDS = {
    "validate": (
        "retrovue.cli.declarative",
        "validate",
        "Check retrovue.yaml (syntax, schema, semantics).",
    ),
    "plan": ("retrovue.cli.declarative", "plan", "Show what apply would change."),
    "apply": (
        "retrovue.cli.declarative",
        "apply",
        "Plan (or load the saved PLAN), show it, ask for `yes`, then carry it out.",
    ),
    "export": (
        "retrovue.cli.export",
        "export",
        "Print retrovue.yaml for the current database (secrets become ${VAR} references).",
    ),
    "schema": (
        "retrovue.cli.schema",
        "schema",
        "Print the JSON Schema of retrovue.yaml (config, the default) or of `plan --json` (plan).",
    ),
    "db": ("retrovue.cli.db", "db", "Database schema: migrations and checks."),
    "status": (
        "retrovue.cli.status",
        "status",
        "Per source: last reconcile, in sync with the config, assets, enrichment backlog, last error.",
    ),
    "watch": (
        "retrovue.cli.watch",
        "watch",
        "Keep the catalogue in line continuously: reconcile on file events, on an interval and on config edits.",
    ),
    "lock": ("retrovue.cli.lock", "lock", "Inspect or release the apply lock."),
    "source": (
        "retrovue.cli.imperative.source",
        "source",
        "Sources: configured importer instances (`source list-types` lists the types).",
    ),
    "collection": (
        "retrovue.cli.imperative.collection",
        "collection",
        "Collections: the libraries/folders a source offers.",
    ),
    "enricher": (
        "retrovue.cli.imperative.enricher",
        "enricher",
        "Enrichers: what probes ingested media (ffprobe, loudness, plugins).",
    ),
    "serve": (
        "retrovue.cli.serve",
        "serve",
        "Serve the JSON API (/api/v1, OpenAPI at /api/v1/openapi.json) and the web view.",
    ),
    "asset": (
        "retrovue.cli.imperative.asset",
        "asset",
        "Assets: the media files ingested from collections (read-only).",
    ),
    "worker": (
        "retrovue.cli.worker",
        "worker",
        "Enrich what the shared PostgreSQL database says is still to enrich, beside other workers.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute, _help = COMMANDS[name]
        return getattr(importlib.import_module(module), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.utils.make_default_short_help(COMMANDS[name][2], limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="retrovue")
def cli() -> None:
    """Keep the media catalogue in line with retrovue.yaml: validate, plan, apply."""


# `_RETROVUE_COMPLETE=bash_complete` answers through this class instead of click's own, which
# hands bash upstream names unquoted (a folder named `$(touch x)` would run when completed)
add_completion_class(QuotedBashComplete)


class _Signals:
    """SIGTERM (a cancelled CI job, `docker stop`) raises ``TerminatedBySignal`` in the main
    thread, so the run unwinds as it does on Ctrl-C (the unit in progress rolls back, the lock is
    released) instead of dying mid-transaction.  Remembers that it came, for the exit code."""

    def __init__(self) -> None:
        self.terminated = False
        self._previous: object = None
        self._installed = False

    def __enter__(self) -> _Signals:
        try:
            self._previous = signal.signal(signal.SIGTERM, self._on_sigterm)
            self._installed = True
        except ValueError:  # not the main thread (an embedding program): its signals are its own
            pass
        return self

    def _on_sigterm(self, _signum, _frame) -> None:
        self.terminated = True
        raise TerminatedBySignal()

    def __exit__(self, *_exc) -> None:
        if self._installed:
            signal.signal(signal.SIGTERM, self._previous)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    with _Signals() as signals:
        ended = _run(argv, signals)
    sys.exit(exit_code(ended, terminated=signals.terminated))


def _run(argv: list[str], signals: _Signals) -> object:
    """Run the command; how it ended (an ``Outcome``, an error, or None)."""
    json_wanted = "--json" in argv
    debug = "--debug" in argv
    try:
        ended = cli.main(args=argv, prog_name="retrovue", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        ended = None
    except click.UsageError as exc:
        # usage errors exit 1 (never 2), naming the flag
        usage = f"\n{exc.ctx.get_usage()}" if exc.ctx else ""
        _fail("USAGE_ERROR", exc.format_message(), json_wanted, usage)
        ended = exc
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # click hands a Ctrl-C (or our SIGTERM) over as Abort; either way the run was stopped
        ended = KeyboardInterrupt() if isinstance(exc, click.exceptions.Abort) else exc
        _report_stop(signals.terminated, json_wanted)
    except RetrovueError as exc:  # raised before a command's own reporting could see it
        report_error(exc, json_wanted, debug, Redactor().scrub)
        ended = exc
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback without --debug
        if debug:
            import traceback

            traceback.print_exc()
        message = Redactor().scrub(f"unexpected error: {type(exc).__name__}: {exc}")
        _fail("INTERNAL_ERROR", message, json_wanted)
        ended = exc
    return ended


def _report_stop(terminated: bool, json_wanted: bool) -> None:
    code, message = (
        (TerminatedBySignal.code, "terminated (SIGTERM)")
        if terminated
        else (InterruptedByOperator.code, "interrupted")
    )
    _fail(code, message, json_wanted)


def _fail(code: str, message: str, json_wanted: bool, usage: str = "") -> None:
    """An error raised before a command could report it: its document, and its line."""
    if json_wanted:
        click.echo(json.dumps(error_document(code, message)))
    click.echo(f"Error: {message}{usage}", err=True)
