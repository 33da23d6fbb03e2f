"""`retrovue source update`."""

from __future__ import annotations

import click

from retrovue.app.source_update import IMMUTABLE, UpdateRequest, update_source
from retrovue.cli.complete import complete_source
from retrovue.cli.console import Console
from retrovue.cli.imperative.params import PartialParamsCommand, given_params
from retrovue.cli.imperative.shared import dry_run_option, emit_dry_run
from retrovue.cli.imperative.source import source
from retrovue.cli.options import common_options
from retrovue.render import sources as render


@source.command("update", cls=PartialParamsCommand)
@click.argument("selector", metavar="SOURCE", shell_complete=complete_source)
@click.option("--name", "new_name", help="New display name.")
# accepted only to be refused by name: these fields never change
@click.option("--id", "id", hidden=True)
@click.option("--external-id", "external_id", hidden=True)
@click.option("--type", "type", hidden=True)
@click.option("--created-at", "created_at", hidden=True)
@dry_run_option
@common_options
def update(console: Console, selector, new_name, dry_run, **kwargs) -> None:
    """Change a source's name or parameters (partial update: only the flags given change).

    Only the flags of SOURCE's own type apply; they are listed per type below."""
    immutable = {k: kwargs.pop(k) for k in IMMUTABLE}
    request = UpdateRequest(selector, new_name, given_params(kwargs), immutable, dry_run)
    done = update_source(console.ctx, request, warn=lambda text: console.err(f"Warning: {text}"))
    if dry_run:
        emit_dry_run(console, done.plan, render.update_preview_document(done))
    else:
        console.show(done, render.updated_document, render.updated_lines)
