"""Reads for the web view and its API: ingest runs, enrichment failures, per-state counts and
the spread of durations and loudness.  Each is a fixed number of queries whatever the size of
the collection (the histograms count their bins in the database: 100,000 values never travel)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, Integer, case, cast, func, select

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


@dataclass(frozen=True)
class Bins:
    """``counts[i]`` values fall in ``[low + i*width, low + (i+1)*width)``; the first bin also
    holds every value below it, the last every value above it."""

    low: float
    width: float
    counts: tuple[int, ...]


#: fixed bins, so two collections' plots compare at a glance: 0-3 h by 9 minutes, and
#: -50..-10 LUFS by 2 LU (broadcast targets sit at -24/-23, streaming near -16/-14)
DURATION_BINS = (0.0, 9 * 60_000.0, 20)
LOUDNESS_BINS = (-50.0, 2.0, 20)


@dataclass(frozen=True)
class Spread:
    """A collection's assets by state, its missing ones, and its present assets' durations and
    loudness in bins (None: no present asset has that fact yet)."""

    states: dict[str, int]
    missing: int
    duration: Bins | None
    loudness: Bins | None


def spread(conn: Connection, collection_id: uuid.UUID) -> Spread:
    """One scan of the collection's rows whatever its size (index-only, on
    ix_assets_collection_facts), grouped by state, presence and the two bins: 100,000 values
    never travel, a few hundred groups do."""
    dialect = conn.dialect.name
    missing = Asset.c.missing_since.is_not(None)
    d = _bin(Asset.c.duration_ms, DURATION_BINS, dialect).label("d")
    lo = _bin(Asset.c.loudness_lufs, LOUDNESS_BINS, dialect).label("l")
    gone = case((missing, 1), else_=0).label("gone")
    rows = conn.execute(
        select(Asset.c.state, gone, d, lo, func.count())
        .where(Asset.c.collection_id == collection_id)
        .group_by(Asset.c.state, gone, d, lo)
    ).all()
    states: dict[str, int] = {}
    absent = 0
    plots = ([0] * DURATION_BINS[2], [0] * LOUDNESS_BINS[2])
    for state, is_gone, d_index, l_index, n in rows:
        states[state] = states.get(state, 0) + int(n)
        absent += int(n) if is_gone else 0
        for counts, index in zip(plots, (d_index, l_index), strict=True):
            if index is not None and not is_gone:
                counts[max(0, min(int(index), len(counts) - 1))] += int(n)
    made = [
        Bins(low, width, tuple(counts)) if any(counts) else None
        for (low, width, _n), counts in zip((DURATION_BINS, LOUDNESS_BINS), plots, strict=True)
    ]
    return Spread(states, absent, *made)


def _bin(column, bins: tuple[float, float, int], dialect: str):
    """The bin index of ``column`` (NULL for NULL), before clamping.  SQLite's CAST truncates
    toward zero and PostgreSQL's rounds: PostgreSQL floors explicitly; on SQLite a value below
    the first bin truncates to 0 or less, which clamps to the first bin all the same."""
    low, width, _n = bins
    scaled = (column - low) / width
    return cast(func.floor(scaled) if dialect == "postgresql" else scaled, Integer)


def collections_of_assets(conn: Connection, ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """asset id -> its collection's id, for the ids that exist."""
    if not ids:
        return {}
    rows = conn.execute(select(Asset.c.id, Asset.c.collection_id).where(Asset.c.id.in_(ids)))
    return dict(rows.all())
