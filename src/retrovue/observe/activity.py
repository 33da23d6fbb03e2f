"""Reads for the web view and its API: ingest runs, enrichment failures, per-state counts and
the spread of durations and loudness.  Each is a fixed number of queries whatever the size of
the collection (the histograms count their bins in the database: 100,000 values never travel)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, and_, case, func, select

from retrovue.database.tables import Asset, AssetEnrichment, Collection, IngestRun, Source


@dataclass(frozen=True)
class RunRow:
    id: uuid.UUID
    collection_id: uuid.UUID | None
    collection_name: str | None
    source_name: str | None
    trigger: str
    scope: str
    status: str
    counts: dict | None
    error: str | None
    started_at: object
    finished_at: object


def ingest_runs(
    conn: Connection, collection_id: uuid.UUID | None = None, limit: int = 50
) -> list[RunRow]:
    """The newest runs first (of one collection, or of every one)."""
    query = (
        select(
            IngestRun.c.id,
            IngestRun.c.collection_id,
            Collection.c.name.label("collection_name"),
            Source.c.name.label("source_name"),
            IngestRun.c.trigger,
            IngestRun.c.scope,
            IngestRun.c.status,
            IngestRun.c.counts,
            IngestRun.c.error,
            IngestRun.c.started_at,
            IngestRun.c.finished_at,
        )
        .select_from(
            IngestRun.outerjoin(Collection, Collection.c.id == IngestRun.c.collection_id).outerjoin(
                Source, Source.c.id == Collection.c.source_id
            )
        )
        .order_by(IngestRun.c.started_at.desc(), IngestRun.c.id.desc())
        .limit(limit)
    )
    if collection_id is not None:
        query = query.where(IngestRun.c.collection_id == collection_id)
    return [RunRow(*row) for row in conn.execute(query)]


@dataclass(frozen=True)
class FailureRow:
    asset_id: uuid.UUID
    collection_id: uuid.UUID
    canonical_uri: str
    title: str | None
    enricher_type: str
    error_code: str
    error_message: str | None
    enriched_at: object


def enrichment_failures(
    conn: Connection, collection_id: uuid.UUID | None = None, limit: int = 100
) -> list[FailureRow]:
    """Present assets whose last attempt for their current content failed, with the reason."""
    query = (
        select(
            Asset.c.id,
            Asset.c.collection_id,
            Asset.c.canonical_uri,
            Asset.c.title,
            AssetEnrichment.c.enricher_type,
            AssetEnrichment.c.error_code,
            AssetEnrichment.c.error_message,
            AssetEnrichment.c.enriched_at,
        )
        .select_from(Asset.join(AssetEnrichment, AssetEnrichment.c.asset_id == Asset.c.id))
        .where(
            Asset.c.missing_since.is_(None),
            AssetEnrichment.c.change_token == Asset.c.change_token,
            AssetEnrichment.c.error_code.is_not(None),
        )
        .order_by(Asset.c.canonical_uri, Asset.c.id, AssetEnrichment.c.enricher_type)
        .limit(limit)
    )
    if collection_id is not None:
        query = query.where(AssetEnrichment.c.collection_id == collection_id)
    return [FailureRow(*row) for row in conn.execute(query)]


def failure_counts(conn: Connection) -> dict[uuid.UUID, int]:
    """collection id -> present assets with a failed enrichment (any enricher)."""
    rows = conn.execute(
        select(AssetEnrichment.c.collection_id, func.count(func.distinct(Asset.c.id)))
        .select_from(Asset.join(AssetEnrichment, AssetEnrichment.c.asset_id == Asset.c.id))
        .where(
            Asset.c.missing_since.is_(None),
            AssetEnrichment.c.change_token == Asset.c.change_token,
            AssetEnrichment.c.error_code.is_not(None),
        )
        .group_by(AssetEnrichment.c.collection_id)
    )
    return {cid: int(n) for cid, n in rows}


def state_counts(conn: Connection, collection_id: uuid.UUID) -> dict[str, int]:
    """state -> assets of the collection in it (missing ones included, as `collection show`)."""
    rows = conn.execute(
        select(Asset.c.state, func.count())
        .where(Asset.c.collection_id == collection_id)
        .group_by(Asset.c.state)
    )
    return {state: int(n) for state, n in rows}


@dataclass(frozen=True)
class Bins:
    """``counts[i]`` values fall in ``[low + i*width, low + (i+1)*width)`` (the last bin also
    holds ``high``)."""

    low: float
    width: float
    counts: tuple[int, ...]


def histogram(conn: Connection, collection_id: uuid.UUID, column: str, bins: int) -> Bins | None:
    """The collection's present values of ``column`` (a numeric column of ``assets``) in
    ``bins`` equal bins from its least to its greatest value; None when it has none."""
    col = Asset.c[column]
    mine = and_(
        Asset.c.collection_id == collection_id,
        Asset.c.missing_since.is_(None),
        col.is_not(None),
    )
    low, high = conn.execute(select(func.min(col), func.max(col)).where(mine)).one()
    if low is None:
        return None
    low, high = float(low), float(high)
    width = (high - low) / bins if high > low else 1.0
    edges = [low + i * width for i in range(bins + 1)]
    # one scan: a conditional count per bin, the same arithmetic on both backends
    sums = [
        func.sum(
            case(
                (and_(col >= edges[i], col < edges[i + 1] if i < bins - 1 else col <= high), 1),
                else_=0,
            )
        )
        for i in range(bins)
    ]
    row = conn.execute(select(*sums).where(mine)).one()
    return Bins(low, width, tuple(int(n or 0) for n in row))


def collections_of_assets(conn: Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """asset id -> its collection's id, for the ids that exist."""
    if not ids:
        return {}
    rows = conn.execute(select(Asset.c.id, Asset.c.collection_id).where(Asset.c.id.in_(ids)))
    return dict(rows.all())
