"""`retrovue schema [config|plan]`: print a shipped JSON Schema.

The schemas are package data, so an editor can be pointed at a file written from here
(``retrovue schema config > retrovue.schema.json``) with no network and no checkout.
"""

from __future__ import annotations

from importlib import resources

import click

#: what each argument names, as the file shipped in ``retrovue/schemas``
SCHEMA_FILES = {"config": "retrovue.schema.json", "plan": "plan.schema.json"}


def schema_text(which: str) -> str:
    if which == "plan":  # its actions part comes from the registered kinds (plugins' too)
        from retrovue.model.plan_schema import plan_schema_text

        return plan_schema_text()
    return resources.files("retrovue.schemas").joinpath(SCHEMA_FILES[which]).read_text("utf-8")


@click.command("schema")
@click.argument("which", type=click.Choice(sorted(SCHEMA_FILES)), default="config")
def schema(which: str) -> None:
    """Print the JSON Schema of retrovue.yaml (config, the default) or of `plan --json` (plan)."""
    click.echo(schema_text(which), nl=False)
