"""`retrovue db upgrade|current`: Alembic migrations of the selected database."""

from __future__ import annotations

import click

from retrovue.app import admin
from retrovue.cli.console import Console
from retrovue.cli.options import common_options


@click.group()
def db() -> None:
    """Database schema migrations."""


@db.command()
@common_options
def upgrade(console: Console) -> None:
    """Migrate the database to the newest schema revision."""
    r = admin.upgrade(console.ctx)
    if console.json_output:
        console.emit_json({"status": "ok", "database": r.database, "from": r.before, "to": r.after})
    else:
        console.out(f"Database {r.database}: {r.before or '(empty)'} -> {r.after}\n")


@db.command()
@common_options
def current(console: Console) -> None:
    """Show the database's schema revision and the newest one."""
    r = admin.current(console.ctx)
    up_to_date = r.before == r.head
    if console.json_output:
        console.emit_json(
            {
                "status": "ok",
                "database": r.database,
                "current": r.before,
                "head": r.head,
                "up_to_date": up_to_date,
            }
        )
    else:
        state = "up to date" if up_to_date else "out of date: run `retrovue db upgrade`"
        console.out(
            f"Database {r.database}: revision {r.before or '(none)'}, head {r.head} ({state})\n"
        )
