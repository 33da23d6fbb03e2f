"""`retrovue db upgrade|current|check`: the selected database's schema."""

from __future__ import annotations

import click

from retrovue.app import admin
from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.model.enums import Outcome

#: what `db current` says about each schema status
_STANDING = {
    "current": "up to date",
    "behind": "out of date: run `retrovue db upgrade`",
    "newer": "made by a newer retrovue: use that version",
    "foreign": "tables but no retrovue revision: not a retrovue database",
    "empty": "empty: created and migrated on first use",
    "missing": "does not exist yet: created and migrated on first use",
}


@click.group()
def db() -> None:
    """Database schema: migrations and checks."""


@db.command()
@common_options
def upgrade(console: Console) -> None:
    """Migrate the database to the newest schema revision (one transaction)."""
    r = admin.upgrade(console.ctx)
    if console.json_output:
        console.emit_json({"status": "ok", "database": r.database, "from": r.before, "to": r.after})
    else:
        console.out(f"Database {r.database}: {r.before or '(empty)'} -> {r.after}\n")


@db.command()
@common_options
def current(console: Console) -> None:
    """Show the database's schema revision and the newest one (creates nothing)."""
    r = admin.current(console.ctx)
    up_to_date = r.status == "current"
    if console.json_output:
        console.emit_json(
            {
                "status": "ok",
                "database": r.database,
                "current": r.before,
                "head": r.head,
                "up_to_date": up_to_date,
                "schema": r.status,
            }
        )
    else:
        console.out(
            f"Database {r.database}: revision {r.before or '(none)'}, head {r.head} "
            f"({_STANDING[r.status]})\n"
        )


@db.command()
@common_options
def check(console: Console) -> Outcome:
    """Compare the live schema with this retrovue's models; exit 1 when they differ."""
    result = admin.check(console.ctx)
    if console.json_output:
        console.emit_json(
            {
                "status": "ok" if result.matches else "mismatch",
                "database": result.database,
                "revision": result.revision,
                "head": result.head,
                "matches": result.matches,
                "differences": [d.to_json() for d in result.differences],
            }
        )
    elif result.matches:
        console.out(f"Database {result.database}: the schema matches this retrovue's models.\n")
    else:
        count = len(result.differences)
        lines = [
            f"Database {result.database}: {count} difference{'s' if count != 1 else ''} "
            "from this retrovue's models:"
        ]
        console.lines(lines + [f"  {d.message}" for d in result.differences])
    return Outcome.OK if result.matches else Outcome.FAILED
