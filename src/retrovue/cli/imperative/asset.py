"""`retrovue asset list | show`: read-only views of ingested assets."""

from __future__ import annotations

import click

from retrovue.app.asset_read import (
    PAGE_SIZE,
    STATES,
    AssetFilters,
    list_assets,
    show_asset,
)
from retrovue.cli.complete import complete_collection, complete_source
from retrovue.cli.console import Console
from retrovue.cli.options import common_options
from retrovue.render import assets as view


@click.group()
def asset() -> None:
    """Assets: the media files ingested from collections (read-only)."""


@asset.command("list")
@click.option(
    "--collection",
    "collection",
    metavar="COLLECTION",
    shell_complete=complete_collection,
    help="Only this collection's assets.",
)
@click.option(
    "--source",
    "source",
    metavar="SOURCE",
    shell_complete=complete_source,
    help="Only this source's assets.",
)
@click.option("--state", type=click.Choice(STATES), help="Only assets in this state.")
@click.option("--approved/--not-approved", default=None, help="Only (not) approved assets.")
@click.option("--missing/--present", default=None, help="Only missing (or present) assets.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help=f"At most N assets on the page (default {PAGE_SIZE}).",
)
@click.option(
    "--all", "all", is_flag=True, help="Every matching asset, no page (not with --limit)."
)
@click.option(
    "--after",
    metavar="ASSET_ID",
    help="Start after this asset: the next page, from the id the last one printed.",
)
@common_options
def list_command(console: Console, **filters) -> None:
    """List assets (AND of the filters), ordered by source, collection, canonical_uri.

    One page at a time (see --limit); the output ends with the command for the next page.
    Assets are written as they are read, so --all holds none: its table aligns per 1,000 rows.
    """
    with list_assets(console.ctx, AssetFilters(**filters)) as listing:
        if console.json_output:
            console.stream(view.list_json(listing))
        else:
            console.stream_lines(view.list_lines(listing))


@asset.command("show")
@click.argument("selector", metavar="ASSET")
@common_options
def show(console: Console, selector: str) -> None:
    """Show one asset (by id, source_uri or canonical_uri)."""
    detail = show_asset(console.ctx, selector)
    console.show(detail, view.show_document, view.show_lines)
