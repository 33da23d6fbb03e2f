"""`retrovue export [--source NAME]…`: print the retrovue.yaml that describes the database."""

from __future__ import annotations

import click

from retrovue.app.export import export as what_to_export
from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.render import export as view


@click.command("export")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="NAME",
    help="Only this stored source (repeatable).",
)
@common_options
def export(console: Console, sources: tuple[str, ...]) -> None:
    """Print retrovue.yaml for the current database (secrets become ${VAR} references)."""
    exported = what_to_export(console.ctx, tuple(sources))
    console.show(exported, view.export_document, view.export_yaml)
    for note in view.secret_notes(exported):
        console.err(note)
