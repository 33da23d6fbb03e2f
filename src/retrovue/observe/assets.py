"""Stored assets for the read-only asset commands, as plain records."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, func, select

from retrovue.database.models import Asset, Collection, Source
from retrovue.model.catalog import AssetOwner, AssetRecord, ListedAsset

_COLUMNS = tuple(AssetRecord.__dataclass_fields__)


def asset_record(row) -> AssetRecord:
    """A row of the ``assets`` table as a record."""
    values = row._mapping
    return AssetRecord(**{name: values[name] for name in _COLUMNS})


def list_assets(
    conn: Connection,
    *,
    collection_id: uuid.UUID | None = None,
    source_id: uuid.UUID | None = None,
    state: str | None = None,
    approved: bool | None = None,
    missing: bool | None = None,
    limit: int | None = None,
) -> tuple[list[ListedAsset], bool]:
    """Assets matching every given filter, ordered by source, collection and canonical_uri;
    with whether ``limit`` cut the list."""
    query = (
        select(Asset, Collection.c.name.label("collection_name"))
        .join(Collection, Collection.c.id == Asset.c.collection_id)
        .join(Source, Source.c.id == Collection.c.source_id)
        .where(*_conditions(collection_id, state, approved, missing))
        .where(*([Collection.c.source_id == source_id] if source_id is not None else []))
        .order_by(
            func.lower(Source.c.name),
            func.lower(Collection.c.name),
            Collection.c.id,
            Asset.c.canonical_uri,
            Asset.c.id,
        )
    )
    if limit is not None:
        query = query.limit(limit + 1)  # one more tells whether the list was cut
    rows = conn.execute(query).all()
    truncated = limit is not None and len(rows) > limit
    return [ListedAsset(asset_record(r), r.collection_name) for r in rows[:limit]], truncated


def _conditions(collection_id, state, approved, missing) -> list:
    """The WHERE clauses of the filters that are set."""
    conditions = []
    if collection_id is not None:
        conditions.append(Asset.c.collection_id == collection_id)
    if state is not None:
        conditions.append(Asset.c.state == state)
    if approved is not None:
        conditions.append(Asset.c.approved_for_broadcast == approved)
    if missing is not None:
        conditions.append(
            Asset.c.missing_since.is_not(None) if missing else Asset.c.missing_since.is_(None)
        )
    return conditions


def asset_owner(conn: Connection, collection_id: uuid.UUID) -> AssetOwner:
    row = conn.execute(
        select(
            Collection.c.id,
            Collection.c.name,
            Source.c.id.label("sid"),
            Source.c.name.label("sname"),
            Source.c.type,
        )
        .join(Source, Source.c.id == Collection.c.source_id)
        .where(Collection.c.id == collection_id)
    ).one()
    return AssetOwner(row.id, row.name, row.sid, row.sname, row.type)
