"""`retrovue collection list | show | update` and the `collection` group; `ingest` and `wipe`
attach below."""

from __future__ import annotations

import click

from retrovue.app.collection_read import list_collections, show_collection
from retrovue.app.collection_update import UpdateRequest, commit_update, preview_update
from retrovue.cli.complete import complete_collection, complete_enricher_type, complete_source
from retrovue.cli.console import Console
from retrovue.cli.imperative.shared import dry_run_option, emit_dry_run
from retrovue.cli.options import common_options
from retrovue.render import collections as view


@click.group()
def collection() -> None:
    """Collections: the libraries/folders a source offers."""


@collection.command("list")
@click.argument("positional", metavar="[SOURCE]", required=False, shell_complete=complete_source)
@click.option(
    "--source",
    "source_opt",
    metavar="SOURCE",
    shell_complete=complete_source,
    help="Only this source's collections (wins over the argument).",
)
@common_options
def list_command(console: Console, positional, source_opt) -> None:
    """List collections (read-only)."""
    listing = list_collections(console.ctx, source_opt if source_opt is not None else positional)
    console.show(listing, view.list_document, view.list_lines)


@collection.command("show")
@click.argument("selector", metavar="COLLECTION", shell_complete=complete_collection)
@common_options
def show(console: Console, selector: str) -> None:
    """Show one collection, and why it is not ingestible (read-only)."""
    detail = show_collection(console.ctx, selector)
    console.show(detail, view.show_document, view.show_lines)


@collection.command("update")
@click.argument("selector", metavar="COLLECTION", shell_complete=complete_collection)
@click.option(
    "--sync-enable",
    "--enable-sync",
    "--sync-enabled",
    "sync_enable",
    is_flag=True,
    help="Enable sync.",
)
@click.option(
    "--sync-disable",
    "--disable-sync",
    "--sync-disabled",
    "sync_disable",
    is_flag=True,
    help="Disable sync.",
)
@click.option(
    "--path-mapping",
    "--local-path",
    "path_mapping",
    metavar="LOCAL_PATH|DELETE",
    help="Set the local path of the collection's path mapping (DELETE clears it).",
)
@click.option(
    "--path-mapping-plex",  # the contract's flag; the use case speaks of an upstream path
    "mapping_upstream_path",
    metavar="PLEX_PATH",
    help="Which mapping row, when there are several.",
)
@click.option(
    "--add-enricher",
    metavar="TYPE",
    shell_complete=complete_enricher_type,
    help="Attach enricher TYPE to this collection (adds to or overrides its source's).",
)
@click.option(
    "--priority",
    type=int,
    help="With --add-enricher: run order among the collection's enrichers (lower first; 0).",
)
@click.option(
    "--remove-enricher",
    metavar="TYPE",
    shell_complete=complete_enricher_type,
    help="Detach enricher TYPE from this collection.",
)
@dry_run_option
@common_options
def update(console: Console, selector, dry_run, **changes) -> None:
    """Enable/disable sync, set path mappings, attach/detach enrichers (never ingests or
    enriches: see `retrovue collection enrich`)."""
    result = preview_update(console.ctx, UpdateRequest(selector, **changes))
    warning = view.update_warning(result)
    if warning:
        console.err(warning)
    if dry_run:
        emit_dry_run(console, result.plan, view.update_document(result))
        return
    result = commit_update(console.ctx, result)
    console.show(result, view.update_document, view.update_lines)


from retrovue.cli.imperative import (  # noqa: E402, F401
    collection_enrich,
    collection_ingest,
    collection_wipe,
)
