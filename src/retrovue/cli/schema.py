"""`retrovue schema [config|plan]`: print a shipped JSON Schema."""

from __future__ import annotations

import click

from retrovue.app.schemas import SCHEMA_FILES, schema_text


@click.command("schema")
@click.argument("which", type=click.Choice(sorted(SCHEMA_FILES)), default="config")
def schema(which: str) -> None:
    """Print the JSON Schema of retrovue.yaml (config, the default) or of `plan --json` (plan)."""
    click.echo(schema_text(which), nl=False)
