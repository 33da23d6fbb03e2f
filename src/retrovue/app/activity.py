"""What the web view and its API read besides the CLI's listings: the dashboard's overview, a
collection's page (counts per state, failures, histograms), ingest runs and enrichment failures.
Reads only, each from one read transaction."""

from __future__ import annotations

from dataclasses import dataclass

from retrovue.app.collection_read import (
    CollectionDetail,
    CollectionEntry,
    entry_of,
    ingestible_reason,
)
from retrovue.app.context import Context
from retrovue.app.enrichers import effective_enrichers
from retrovue.app.selectors import resolve_collection
from retrovue.errors import RetrovueError
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.observe import activity as stored
from retrovue.observe.catalog import asset_counts, collection_times, last_run
from retrovue.observe.db import load_snapshot

#: rows of a list when the caller names no limit
RUNS = 50
FAILURES = 100


@dataclass(frozen=True)
class CollectionStatus:
    entry: CollectionEntry
    failed: int  # present assets whose enrichment failed
    last_run: stored.RunRow | None


@dataclass(frozen=True)
class SourceStatus:
    source: DbSource
    available: bool
    collections: tuple[CollectionStatus, ...]


@dataclass(frozen=True)
class Overview:
    sources: tuple[SourceStatus, ...]
    locks: tuple  # execute.lock's LockInfo, held or left behind


def overview(ctx: Context) -> Overview:
    """Every source with its collections: counts, failures and the newest ingest run of each."""
    from retrovue.app.admin import list_locks

    with ctx.reading() as conn:
        snapshot = load_snapshot(conn)
        times, counts = collection_times(conn), asset_counts(conn)
        failed = stored.failure_counts(conn)
        runs: dict = {}
        for run in stored.ingest_runs(conn, limit=1_000):
            runs.setdefault(run.collection_id, run)  # newest first: the first seen is the last
    ctx.learn_secrets(snapshot)
    sources = tuple(
        SourceStatus(
            s,
            ctx.registry.available(s.type),
            tuple(
                CollectionStatus(entry_of(s, c, times, counts), failed.get(c.id, 0), runs.get(c.id))
                for c in sorted(s.collections, key=lambda c: (c.name.casefold(), str(c.id)))
            ),
        )
        for s in sorted(snapshot.sources, key=lambda s: (s.name.casefold(), str(s.id)))
    )
    return Overview(sources, tuple(list_locks(ctx)))


@dataclass(frozen=True)
class CollectionView:
    detail: CollectionDetail
    states: dict[str, int]
    failures: tuple[stored.FailureRow, ...]
    duration: stored.Bins | None  # of duration_ms
    loudness: stored.Bins | None  # of loudness_lufs
    #: why the source's stored config cannot be read (None: it can), scrubbed
    config_error: str | None = None


def collection_view(ctx: Context, selector: str) -> CollectionView:
    """What `collection show` shows, with the counts per state, the failures and the spread of
    durations and loudness; the counts come from the same two scans as the histograms (not
    from counting every collection's assets, as `collection show` does)."""
    with ctx.reading() as conn:
        snapshot = load_snapshot(conn)
        ctx.learn_secrets(snapshot)
        source, col = resolve_collection(snapshot, selector)
        spread = stored.spread(conn, col.id)
        times = collection_times(conn)
        run = last_run(conn, col.id)
        failures = stored.enrichment_failures(conn, col.id, FAILURES)
    counts = {col.id: (sum(spread.states.values()), spread.missing)}
    # a source whose stored config is invalid (edited by hand, or by an older retrovue) still
    # has its assets in the database: the page shows them, and the error in place of the check
    try:
        reason, config_error = ingestible_reason(ctx, source, col), None
    except RetrovueError as exc:
        reason, config_error = "its source's stored config is invalid", ctx.scrub(exc.message)
    detail = CollectionDetail(
        entry_of(source, col, times, counts), reason, run, effective_enrichers(source, col)
    )
    return CollectionView(
        detail,
        spread.states,
        tuple(failures),
        spread.duration,
        spread.loudness,
        config_error,
    )


@dataclass(frozen=True)
class Scoped:
    """Rows of a list, and the collection it was narrowed to (None: every collection)."""

    source: DbSource | None
    collection: DbCollection | None
    rows: tuple


def _scope(ctx: Context, conn, selector: str | None):
    if selector is None:
        return None, None
    snapshot = load_snapshot(conn)
    ctx.learn_secrets(snapshot)
    return resolve_collection(snapshot, selector)


def list_runs(ctx: Context, collection: str | None = None, limit: int = RUNS) -> Scoped:
    with ctx.reading() as conn:
        source, col = _scope(ctx, conn, collection)
        rows = stored.ingest_runs(conn, col.id if col else None, limit)
    return Scoped(source, col, tuple(rows))


def list_failures(ctx: Context, collection: str | None = None, limit: int = FAILURES) -> Scoped:
    with ctx.reading() as conn:
        source, col = _scope(ctx, conn, collection)
        rows = stored.enrichment_failures(conn, col.id if col else None, limit)
    return Scoped(source, col, tuple(rows))
