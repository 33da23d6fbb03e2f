"""`collection list` and `collection show`: read-only, from one snapshot, never calling an upstream."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from retrovue.app.context import Context
from retrovue.app.enrichers import EffectiveEnricher, effective_enrichers
from retrovue.app.selectors import resolve_collection, resolve_source
from retrovue.model.enrichment import EnrichProgress
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.observe.catalog import asset_counts, collection_times, last_run
from retrovue.observe.db import load_snapshot
from retrovue.observe.enrichment import enrich_progress
from retrovue.plan import imperative as build


@dataclass(frozen=True)
class CollectionEntry:
    """A stored collection with its counts and timestamps."""

    source: DbSource
    collection: DbCollection
    assets: int  # missing ones included
    missing: int
    last_ingest: datetime | None
    created_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class CollectionListing:
    entries: tuple[CollectionEntry, ...]
    source: DbSource | None  # the source filter, resolved


@dataclass(frozen=True)
class CollectionDetail:
    entry: CollectionEntry
    #: why the importer's local check fails now (None: it passes); the stored flag may be stale
    ingestible_reason: str | None
    last_run: Any  # the newest ingest_runs row, or None
    #: the enrichers the collection runs, in run order, each with its origin (issue 11)
    enrichers: tuple[EffectiveEnricher, ...] = ()
    #: assets still to enrich and the workers' claims on them; None with no enricher attached
    enrichment: EnrichProgress | None = None


def entry_of(source, col, times, counts) -> CollectionEntry:
    last, created, updated = times[col.id]
    total, missing = counts.get(col.id, (0, 0))
    return CollectionEntry(source, col, total, missing, last, created, updated)


def list_collections(ctx: Context, source_selector: str | None = None) -> CollectionListing:
    """Every collection (or one source's), by source name, collection name, then id."""
    with ctx.reading() as conn:
        snapshot = load_snapshot(conn)
        ctx.learn_secrets(snapshot)
        chosen = resolve_source(snapshot, source_selector) if source_selector is not None else None
        times = collection_times(conn)
        counts = asset_counts(conn)
    pairs = [
        (s, col)
        for s in snapshot.sources
        if chosen is None or s.id == chosen.id
        for col in s.collections
    ]
    pairs.sort(key=lambda p: (p[0].name.casefold(), p[1].name.casefold(), str(p[1].id)))
    return CollectionListing(tuple(entry_of(s, col, times, counts) for s, col in pairs), chosen)


def show_collection(ctx: Context, selector: str) -> CollectionDetail:
    with ctx.reading() as conn:
        snapshot = load_snapshot(conn)
        ctx.learn_secrets(snapshot)
        source, col = resolve_collection(snapshot, selector)
        entry = entry_of(source, col, collection_times(conn), asset_counts(conn))
        run = last_run(conn, col.id)
        enrichers = effective_enrichers(source, col)
        progress = None
        if enrichers:
            progress = enrich_progress(conn, col.id, [e.spec.type for e in enrichers])
    return CollectionDetail(entry, ingestible_reason(ctx, source, col), run, enrichers, progress)


def ingestible_reason(ctx: Context, source: DbSource, col: DbCollection) -> str | None:
    """The importer's check of local paths and mappings, explained."""
    if not ctx.registry.available(source.type):
        return "importer unavailable"
    # a local check: a secret whose variable is unset here does not fail the show
    importer = ctx.importers.for_local_checks(source.type, source.config, source.name)
    ok, reason = importer.check_ingestible(build.upstream_of(col), col.path_mappings)
    return None if ok else (reason or "not ingestible")
