"""`retrovue db upgrade|current`: Alembic migrations of the selected database."""

from __future__ import annotations

import click

from retrovue.cli.options import common_options
from retrovue.database import migrate
from retrovue.database.engine import database_errors, make_engine


@click.group()
def db() -> None:
    """Database schema migrations."""


@db.command()
@common_options
def upgrade(app) -> None:
    """Migrate the database to the newest schema revision."""
    engine = make_engine(app.target.url)
    try:
        with database_errors(app.target), engine.begin() as conn:
            before = migrate.current_revision(conn)
            migrate.upgrade(conn)
            after = migrate.current_revision(conn)
    finally:
        engine.dispose()
    if app.json_output:
        app.emit_json(
            {"status": "ok", "database": app.target.display_url, "from": before, "to": after}
        )
    else:
        app.out(f"Database {app.target.display_url}: {before or '(empty)'} -> {after}\n")


@db.command()
@common_options
def current(app) -> None:
    """Show the database's schema revision and the newest one."""
    engine = make_engine(app.target.url)
    try:
        with database_errors(app.target), engine.connect() as conn:
            revision = migrate.current_revision(conn)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    if app.json_output:
        app.emit_json(
            {
                "status": "ok",
                "database": app.target.display_url,
                "current": revision,
                "head": head,
                "up_to_date": revision == head,
            }
        )
    else:
        state = "up to date" if revision == head else "out of date: run `retrovue db upgrade`"
        app.out(
            f"Database {app.target.display_url}: revision {revision or '(none)'}, head {head} ({state})\n"
        )
