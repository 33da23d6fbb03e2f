"""Read-model extras the snapshot does not carry: timestamps and grouped counts (no per-row queries)."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, func, select

from retrovue.database.models import Asset, Collection, IngestRun, Source


def source_times(conn: Connection) -> dict[uuid.UUID, tuple]:
    return {
        r.id: (r.created_at, r.updated_at)
        for r in conn.execute(select(Source.id, Source.created_at, Source.updated_at))
    }


def collection_times(conn: Connection) -> dict[uuid.UUID, tuple]:
    """id -> (last_ingest_at, created_at, updated_at)."""
    rows = conn.execute(
        select(
            Collection.id,
            Collection.last_ingest_at,
            Collection.created_at,
            Collection.updated_at,
        )
    )
    return {r.id: (r.last_ingest_at, r.created_at, r.updated_at) for r in rows}


def asset_counts(conn: Connection) -> dict[uuid.UUID, tuple[int, int]]:
    """collection id -> (assets, missing assets), one grouped query (CL N-1)."""
    rows = conn.execute(
        select(Asset.collection_id, func.count(), func.count(Asset.missing_since)).group_by(
            Asset.collection_id
        )
    )
    return {cid: (int(total), int(missing)) for cid, total, missing in rows}


def last_run(conn: Connection, collection_id: uuid.UUID):
    return conn.execute(
        select(IngestRun.__table__)
        .where(IngestRun.collection_id == collection_id)
        .order_by(IngestRun.started_at.desc(), IngestRun.id.desc())
        .limit(1)
    ).first()
