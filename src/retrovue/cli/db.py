"""`retrovue db upgrade|current|check`: the selected database's schema."""

from __future__ import annotations

import click

from retrovue.app import admin
from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.model.enums import Outcome
from retrovue.render import database as view


@click.group()
def db() -> None:
    """Database schema: migrations and checks."""


@db.command()
@common_options
def upgrade(console: Console) -> None:
    """Migrate the database to the newest schema revision (one transaction)."""
    revisions = admin.upgrade(console.ctx)
    console.show(revisions, view.upgrade_document, view.upgrade_text)


@db.command()
@common_options
def current(console: Console) -> None:
    """Show the database's schema revision and the newest one (creates nothing)."""
    revisions = admin.current(console.ctx)
    console.show(revisions, view.current_document, view.current_text)


@db.command()
@common_options
def check(console: Console) -> Outcome:
    """Compare the live schema with this retrovue's models; exit 1 when they differ."""
    result = admin.check(console.ctx)
    if console.json_output:
        console.emit_json(view.check_document(result))
    elif result.matches:
        console.out(view.matching_text(result))
    else:
        console.lines(view.difference_lines(result))
    return Outcome.OK if result.matches else Outcome.FAILED
