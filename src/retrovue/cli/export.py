"""`retrovue export [--source NAME]…`: print the retrovue.yaml that describes the database."""

from __future__ import annotations

import click

from retrovue.app import admin
from retrovue.cli.console import Console
from retrovue.cli.options import common_options


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
    result = admin.export(console.ctx, tuple(sources))
    if console.json_output:
        console.emit_json(
            {
                "status": "ok",
                "yaml": result.text,
                "variables": [
                    {"name": s.variable, "source": s.source, "key": s.key} for s in result.secrets
                ],
            }
        )
    else:
        console.out(result.text)
    for secret in result.secrets:
        console.err(
            f'note: set {secret.variable} (the {secret.key} of source "{secret.source}") before using this file'
        )
