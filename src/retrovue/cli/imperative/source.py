"""`retrovue source list-types | list | show` and the `source` group.

The mutating verbs live in their own modules (source_add, source_update, source_discover,
source_ingest, source_delete); they are attached to this group at the end.
"""

from __future__ import annotations

import click

from retrovue.app import source_read as read
from retrovue.cli.complete import complete_source
from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.render import sources as render


@click.group()
def source() -> None:
    """Sources: configured importer instances (`source list-types` lists the types)."""


@source.command("list-types")
@common_options
def list_types(console: Console) -> None:
    """List the registered source types and their parameters."""
    types = read.list_source_types(console.ctx)
    console.show(types, render.source_types_document, render.source_types_lines)


@source.command("list")
@click.option("--type", "type_id", metavar="TYPE", help="Only sources of this type.")
@common_options
def list_sources(console: Console, type_id) -> None:
    """List sources (read-only)."""
    listing = read.list_sources(console.ctx, type_id)
    console.show(listing, render.sources_document, render.sources_lines)


@source.command("show")
@click.argument("selector", metavar="SOURCE", shell_complete=complete_source)
@common_options
def show(console: Console, selector: str) -> None:
    """Show one source with its collections (read-only)."""
    detail = read.show_source(console.ctx, selector)
    console.show(detail, render.source_document, render.source_lines)


# The other verbs live in their own modules; importing them attaches them to `source`.
from retrovue.cli.imperative import (  # noqa: E402, F401
    source_add,
    source_delete,
    source_discover,
    source_enrichers,
    source_ingest,
    source_update,
)
