"""Helpers every imperative command shares: value formatting, snapshots, the lock, dry-run
output, multi-line errors and the confirmation prompt (contracts §0.2–§0.7)."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click
from sqlalchemy import Connection, Engine

from retrovue.cli import context as cli_context
from retrovue.cli.context import AppContext
from retrovue.cli.options import Exit
from retrovue.errors import ImporterUnavailableError, RetrovueError
from retrovue.importers.base import BaseImporter, is_compliant
from retrovue.importers.registry import Registry
from retrovue.model.actions import Plan
from retrovue.model.snapshots import DbSnapshot, DbSource
from retrovue.observe.db import load_snapshot
from retrovue.redact import REDACTED
from retrovue.render.json import plan_to_json
from retrovue.render.text import render_text

DRY_RUN_FOOTER = "(No database changes made \u2014 dry-run mode)"

dry_run_option = click.option("--dry-run", is_flag=True, help="Show the plan; write nothing.")


def confirmation_options(func):
    """--force / --confirm of the destructive commands (contracts §0.6 C-5, C-6)."""
    func = click.option(
        "--confirm", "confirmed", is_flag=True, help="Answer 'yes' non-interactively."
    )(func)
    return click.option(
        "--force",
        is_flag=True,
        help="Skip the prompt (under --test-db also overrides production safety).",
    )(func)


# -- values -------------------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with an explicit offset; SQLite hands back naive datetimes that are UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def uid(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


def yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def redacted_config(config: dict, sensitive: set[str] | frozenset[str]) -> dict:
    return {
        k: (REDACTED if k in sensitive and v is not None else v) for k, v in sorted(config.items())
    }


def sensitive_of(registry: Registry, type_id: str) -> set[str]:
    entry = registry.importers.get(type_id)
    if entry is None:
        return set()
    try:
        return entry.cls.sensitive_params()
    except Exception:  # noqa: BLE001 - a broken plugin must not break listing
        return set()


# -- database -----------------------------------------------------------------------------------


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction (CDG G-7): REPEATABLE READ on PostgreSQL, an explicit BEGIN on SQLite
    (pysqlite would otherwise run each SELECT in its own implicit snapshot)."""
    if engine.dialect.name == "postgresql":
        with (
            engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
            conn.begin(),
        ):
            yield conn
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def snapshot_of(app: AppContext) -> DbSnapshot:
    with read_snapshot(app.engine) as conn:
        return load_snapshot(conn)


def register_source_secrets(app: AppContext, snapshot: DbSnapshot) -> None:
    """Learn every stored secret so no output path can leak one (contracts §0.11)."""
    for source in snapshot.sources:
        app.register_secrets(source.config, sensitive_of(app.registry, source.type))


@contextmanager
def write_lock(app: AppContext, command: str) -> Iterator[None]:
    """UOW-003: hold the apply lock around every write of a mutating command."""
    try:
        from retrovue.execute.lock import apply_lock
    except ImportError:  # the lock module has not landed: run unlocked
        yield
        return
    with apply_lock(app.engine, command):
        yield


def importer_for(app: AppContext, source: DbSource) -> BaseImporter:
    """§0.12 availability: registered and compliant, else IMPORTER_UNAVAILABLE."""
    entry = app.registry.importers.get(source.type)
    if entry is None or not is_compliant(entry.cls):
        raise ImporterUnavailableError(
            f"Source type '{source.type}' is not available",
            hint=f"source '{source.name}' has type '{source.type}', which no loaded importer provides",
        )
    return entry.cls(dict(source.config))


# -- output -------------------------------------------------------------------------------------


def fail(
    app: AppContext,
    code: str,
    messages: list[str],
    *,
    exit_code: int = 1,
    hints: list[str] = (),
    extra: dict | None = None,
) -> None:
    """An error with several `Error:` lines (or extra JSON keys): printed here, then Exit."""
    if app.json_output:
        document = {"status": "error", "code": code, "message": "; ".join(messages)}
        document.update(extra or {})
        app.emit_json(document)
    for message in messages:
        app.err(f"Error: {message}")
    for hint in hints:
        app.err(f"  {hint}")
    raise Exit(exit_code)


def error_document(exc: RetrovueError) -> dict:
    doc = {"status": "error", "code": exc.code, "message": exc.message}
    if exc.context:
        doc["context"] = exc.context
    return doc


def emit_dry_run(app: AppContext, plan: Plan, document: dict, human_lines: list[str] = ()) -> None:
    """§0.7: the plan as `retrovue plan` renders it, then the footer; JSON gets dry_run + plan."""
    if app.json_output:
        document = dict(document)
        document["dry_run"] = True
        document["plan"] = plan_to_json(plan)
        app.emit_json(document)
        return
    text = render_text(plan)
    if human_lines:
        text += "\n".join(human_lines) + "\n"
    app.out(text + DRY_RUN_FOOTER + "\n")


def human(app: AppContext, lines: list[str]) -> None:
    app.out("".join(line + "\n" for line in lines))


# -- confirmation (§0.6) -------------------------------------------------------------------------


def confirm(
    app: AppContext,
    prompt_lines: list[str],
    *,
    force: bool,
    confirmed: bool,
    cancel_line: str,
) -> None:
    """C-1..C-4: returns when the operator typed `yes` (or --force/--confirm); otherwise prints the
    cancel line and exits 0, or exits 1 CONFIRMATION_REQUIRED without a terminal."""
    if force or confirmed:
        return
    if not cli_context.stdin_is_tty():
        from retrovue.errors import ApprovalRequired

        raise ApprovalRequired(
            "Confirmation required but stdin is not a terminal; re-run with --confirm (or --force)"
        )
    for line in prompt_lines:
        click.echo(app.scrub(line), err=True)
    click.echo("This action cannot be undone.", err=True)
    click.echo("Type 'yes' to confirm: ", err=True, nl=False)
    try:
        answer = sys.stdin.readline()
    except (KeyboardInterrupt, EOFError):
        answer = ""
    click.echo("", err=True)
    if answer.strip() != "yes":
        if app.json_output:
            app.emit_json({"status": "cancelled", "message": cancel_line})
        else:
            app.out(cancel_line + "\n")
        raise Exit(0)


def dump(document: dict) -> str:
    return json.dumps(document)
