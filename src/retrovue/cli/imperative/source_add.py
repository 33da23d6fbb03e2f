"""`retrovue source add`."""

from __future__ import annotations

import click

from retrovue.app.source_add import AddRequest, add_source
from retrovue.cli.console import Console
from retrovue.cli.imperative.params import TypeParamsCommand, given_params
from retrovue.cli.imperative.shared import dry_run_option, emit_dry_run
from retrovue.cli.imperative.source import source
from retrovue.cli.options import common_options
from retrovue.render import sources as render


@source.command("add", cls=TypeParamsCommand)
@click.option(
    "--type",
    "type_id",
    metavar="TYPE",
    help="Source type (see `retrovue source list-types`).",
)
@click.option("--name", help="Display name of the source.")
@click.option(
    "--discover",
    is_flag=True,
    help="Also discover the source's collections, in the same transaction.",
)
@dry_run_option
@common_options
def add(console: Console, type_id, name, discover, dry_run, **kwargs) -> None:
    """Create a source. Type-specific flags come from the importer (`--type X --help`)."""
    request = AddRequest(type_id, name, given_params(kwargs), discover, dry_run)
    added = add_source(console.ctx, request, warn=lambda text: console.err(f"Warning: {text}"))
    if dry_run:
        emit_dry_run(console, added.plan, render.added_document(added))
    else:
        console.show(added, render.added_document, render.added_lines)
