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
        select(Asset.__table__, Collection.name.label("collection_name"))
        .join(Collection, Collection.id == Asset.collection_id)
        .join(Source, Source.id == Collection.source_id)
        .where(*_conditions(collection_id, state, approved, missing))
        .where(*([Collection.source_id == source_id] if source_id is not None else []))
        .order_by(
            func.lower(Source.name),
            func.lower(Collection.name),
            Collection.id,
            Asset.canonical_uri,
            Asset.id,
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
        conditions.append(Asset.collection_id == collection_id)
    if state is not None:
        conditions.append(Asset.state == state)
    if approved is not None:
        conditions.append(Asset.approved_for_broadcast == approved)
    if missing is not None:
        conditions.append(
            Asset.missing_since.is_not(None) if missing else Asset.missing_since.is_(None)
        )
    return conditions


def asset_owner(conn: Connection, collection_id: uuid.UUID) -> AssetOwner:
    row = conn.execute(
        select(
            Collection.id,
            Collection.name,
            Source.id.label("sid"),
            Source.name.label("sname"),
            Source.type,
        )
        .join(Source, Source.id == Collection.source_id)
        .where(Collection.id == collection_id)
    ).one()
    return AssetOwner(row.id, row.name, row.sid, row.sname, row.type)
