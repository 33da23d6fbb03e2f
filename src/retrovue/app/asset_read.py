"""`asset list` and `asset show`: read-only views of ingested assets, each from one snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field

from retrovue.app.context import Context
from retrovue.app.selectors import resolve_asset, resolve_collection, resolve_source
from retrovue.errors import UsageError
from retrovue.model.catalog import AssetOwner, AssetRecord, ListedAsset
from retrovue.model.snapshots import DbCollection
from retrovue.observe import assets as stored
from retrovue.observe.db import load_snapshot

STATES = ("new", "enriching", "ready", "retired")


@dataclass(frozen=True)
class AssetFilters:
    collection: str | None = None  # a collection selector
    source: str | None = None  # a source selector
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
    # collection id -> its source's name, for the table's SOURCE column
    source_names: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AssetDetail:
    asset: AssetRecord
    owner: AssetOwner


def list_assets(ctx: Context, filters: AssetFilters) -> AssetListing:
    """Assets matching every filter (AND), ordered by source, collection, canonical_uri."""
    chosen = source = None
    with ctx.reading() as conn:
        snapshot = load_snapshot(conn)
        if filters.collection is not None:
            _source, chosen = resolve_collection(snapshot, filters.collection)
        if filters.source is not None:
            source = resolve_source(snapshot, filters.source)
        rows, truncated = stored.list_assets(
            conn,
            collection_id=chosen.id if chosen else None,
            source_id=source.id if source else None,
            state=filters.state,
            approved=filters.approved,
            missing=filters.missing,
            limit=filters.limit,
        )
    names = {c.id: s.name for s in snapshot.sources for c in s.collections}
    return AssetListing(tuple(rows), filters, chosen, truncated, names)


def show_asset(ctx: Context, selector: str) -> AssetDetail:
    """One asset, by id, then source_uri, then canonical_uri."""
    if not selector.strip():
        raise UsageError("Invalid asset ID format. Expected UUID, source URI, or canonical URI.")
    with ctx.reading() as conn:
        row = resolve_asset(conn, selector)
        owner = stored.asset_owner(conn, row.collection_id)
    return AssetDetail(stored.asset_record(row), owner)
