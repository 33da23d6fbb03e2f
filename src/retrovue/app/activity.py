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
from retrovue.app.status import Reconcile, last_reconcile
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


#: a stored source's drift: as declared, not as declared, not declared at all, or not known
IN_LINE, DRIFTED, UNDECLARED, UNKNOWN = "in line", "drifted", "undeclared", "unknown"


@dataclass(frozen=True)
class Drift:
    """Whether a stored source is as the config declares it, compared with the database only
    (its config, collections' sync flags, path mappings, enrichers).  Not `retrovue status`'s
    in-sync, which plans each source and so lists its upstream: too slow for every view of a
    page.  What changed upstream shows as the last reconcile's outcome instead."""

    state: str  # IN_LINE, DRIFTED, UNDECLARED or UNKNOWN
    details: tuple[str, ...] = ()  # what differs, or why it is not known


@dataclass(frozen=True)
class SourceStatus:
    source: DbSource
    available: bool
    collections: tuple[CollectionStatus, ...]
    drift: Drift = Drift(UNKNOWN)
    last_reconcile: Reconcile | None = None


@dataclass(frozen=True)
class Overview:
    sources: tuple[SourceStatus, ...]
    locks: tuple  # execute.lock's LockInfo, held or left behind
    config_file: str | None = None  # the config the drift was read against (None: none read)
    #: declared sources not in the database yet (``apply`` creates them)
    declared_only: tuple[str, ...] = ()


def overview(ctx: Context, config_file: str | None = None) -> Overview:
    """Every source with its collections: counts, failures and the newest ingest run of each;
    its last reconcile, and its drift from ``config_file`` (else $RETROVUE_CONFIG, else
    ./retrovue.yaml, as `plan` reads)."""
    from retrovue.app.admin import list_locks
    from retrovue.observe import status as reconciles

    with ctx.reading() as conn:
        snapshot = load_snapshot(conn)
        times, counts = collection_times(conn), asset_counts(conn)
        failed = stored.failure_counts(conn)
        runs: dict = {}
        for run in stored.ingest_runs(conn, limit=1_000):
            runs.setdefault(run.collection_id, run)  # newest first: the first seen is the last
        source_runs, recorded = reconciles.last_runs(conn), reconciles.recorded_reconciles(conn)
    ctx.learn_secrets(snapshot)
    drifts, path, declared_only = _drifts(ctx, config_file, snapshot)
    sources = tuple(
        SourceStatus(
            s,
            ctx.registry.available(s.type),
            tuple(
                CollectionStatus(entry_of(s, c, times, counts), failed.get(c.id, 0), runs.get(c.id))
                for c in sorted(s.collections, key=lambda c: (c.name.casefold(), str(c.id)))
            ),
            drifts.get(s.id, Drift(UNDECLARED, ("not declared in the config",))),
            last_reconcile(source_runs.get(s.id), recorded.get(s.id)),
        )
        for s in sorted(snapshot.sources, key=lambda s: (s.name.casefold(), str(s.id)))
    )
    return Overview(sources, tuple(list_locks(ctx)), path, declared_only)


def _drifts(ctx: Context, config_file: str | None, snapshot) -> tuple[dict, str | None, tuple]:
    """stored source id -> its Drift; the config file read; the declared sources not stored.
    A config that cannot be read makes every source's drift UNKNOWN, saying why."""
    from retrovue.app.declarative import load_desired
    from retrovue.config.validate import config_path
    from retrovue.diff.sources import declared_drift

    path = config_path(config_file)
    try:
        desired = load_desired(ctx, config_file)
    except RetrovueError as exc:
        why = Drift(UNKNOWN, (ctx.scrub(f"{path}: {exc.message}"),))
        return {s.id: why for s in snapshot.sources}, None, ()
    drifts, declared_only = {}, []
    for decl in desired.sources:
        db = snapshot.match_source(decl.name, decl.external_id)
        if db is None:
            declared_only.append(decl.name)
            continue
        found = declared_drift(decl, db)
        drifts[db.id] = Drift(DRIFTED, found) if found else Drift(IN_LINE)
    return drifts, path, tuple(declared_only)


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
