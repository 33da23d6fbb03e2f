"""`asset list` and `asset show`: read-only views of ingested assets, each from one snapshot."""

from __future__ import annotations

from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.app.selectors import resolve_asset, resolve_collection
from retrovue.errors import UsageError
from retrovue.model.catalog import AssetOwner, AssetRecord, ListedAsset
from retrovue.model.snapshots import DbCollection
from retrovue.observe import assets as stored
from retrovue.observe.db import load_snapshot

STATES = ("new", "enriching", "ready", "retired")


@dataclass(frozen=True)
class AssetFilters:
    collection: str | None = None  # a collection selector
    state: str | None = None
    approved: bool | None = None
    missing: bool | None = None
    limit: int | None = None


@dataclass(frozen=True)
class AssetListing:
    assets: tuple[ListedAsset, ...]
    filters: AssetFilters
    collection: DbCollection | None  # the collection the filter resolved to
    truncated: bool  # --limit left matching assets out


@dataclass(frozen=True)
class AssetDetail:
    asset: AssetRecord
    owner: AssetOwner


def list_assets(ctx: Context, filters: AssetFilters) -> AssetListing:
    """Assets matching every filter (AND), ordered by source, collection, canonical_uri."""
    chosen = None
    with ctx.reading() as conn:
        if filters.collection is not None:
            _source, chosen = resolve_collection(load_snapshot(conn), filters.collection)
        rows, truncated = stored.list_assets(
            conn,
            collection_id=chosen.id if chosen else None,
            state=filters.state,
            approved=filters.approved,
            missing=filters.missing,
            limit=filters.limit,
        )
    return AssetListing(tuple(rows), filters, chosen, truncated)


def show_asset(ctx: Context, selector: str) -> AssetDetail:
    """One asset, by id, then source_uri, then canonical_uri."""
    if not selector.strip():
        raise UsageError("Invalid asset ID format. Expected UUID, source URI, or canonical URI.")
    with ctx.reading() as conn:
        row = resolve_asset(conn, selector)
        owner = stored.asset_owner(conn, row.collection_id)
    return AssetDetail(stored.asset_record(row), owner)
