"""What the two ingest commands share: previewing a collection's ingest, the enrichment that
follows one, and reporting a run."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from retrovue.app.context import Context
from retrovue.importers.base import BaseImporter
from retrovue.importers.own_files import local_roots, own_files_within
from retrovue.model.actions import EnrichCollection, IngestCollection
from retrovue.model.enums import AssetState, RunStatus
from retrovue.model.results import (
    CollectionIngestReport,
    EnrichmentOutcome,
    IngestedAsset,
    IngestOutcome,
)
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.plan import imperative as build

if TYPE_CHECKING:
    from retrovue.enrichers.registry import EnricherRegistry


def times_of(ctx: Context) -> dict[uuid.UUID, tuple]:
    """collection id -> (last_ingest_at, created_at, updated_at)."""
    from retrovue.observe.catalog import collection_times

    with ctx.reading() as conn:
        return collection_times(conn)


def preview_ingest(
    ctx: Context,
    importer: BaseImporter,
    source: DbSource,
    col: DbCollection,
    times: dict,
    *,
    title: str | None = None,
    season: int | None = None,
    episode: int | None = None,
    allow_mass_missing: bool = False,
    verbose: bool = False,
) -> CollectionIngestReport:
    """What ingesting would do, from the upstream and one read of the stored index."""
    from retrovue.observe.db import load_asset_index

    with ctx.reading() as conn:
        existing, _ = load_asset_index(conn, col.id)
    roots = local_roots(importer.uses_path_mappings, col.locations, col.path_mappings)
    action, diff = build.plan_ingest(
        existing,
        importer,
        source,
        col,
        title=title,
        season=season,
        episode=episode,
        allow_mass_missing=allow_mass_missing,
        own_files=own_files_within(ctx.database_files, roots),
    )
    created = updated = None
    if verbose:
        created = tuple(
            IngestedAsset(None, item.source_uri, canonical, AssetState.NEW, False)
            for item, canonical in diff.new
        )
        updated = tuple(
            IngestedAsset(str(aid), item.source_uri, canonical, AssetState.NEW, False, "content")
            for aid, item, canonical in diff.changed
        ) + tuple(
            IngestedAsset(str(aid), None, canonical, None, None, "remap")
            for aid, canonical in diff.remapped
        )
    return CollectionIngestReport(
        source,
        col,
        action,
        dry_run=True,
        counts=action.counts,
        skipped=action.skipped,
        degraded=action.degraded,
        degraded_reason=action.degraded_reason,
        last_ingest_time=times[col.id][0],
        created_assets=created,
        updated_assets=updated,
    )


def enrichment_after(
    ctx: Context, source: DbSource, col: DbCollection, enrichers: Callable[[], EnricherRegistry]
) -> EnrichCollection | None:
    """What ``apply`` runs after a collection's ingest: its attached enrichers over the assets
    still to enrich (also the ones the ingest creates or changes: the executor enriches those
    whatever this count, made before the ingest, says).  None when no enricher is attached and
    no asset is stuck ``enriching``."""
    from retrovue.observe.reader import DbReader
    from retrovue.plan.enrichment import plan_enrichment

    with ctx.reading() as conn:
        action, _notes = plan_enrichment(  # an enricher that cannot run is the outcome's error
            DbReader(conn),
            enrichers,
            build.collection_address(source, col),
            col.id,
            source.enrichers_of(col),
        )
    return action


def ingest_actions(
    ctx: Context,
    source: DbSource,
    col: DbCollection,
    action: IngestCollection,
    enrichers: Callable[[], EnricherRegistry] | None,
) -> tuple:
    """The collection's ingest, then the enrichment after it; ``enrichers`` loads the enricher
    registry (when an enricher is attached), None skips the enrichment."""
    after = enrichment_after(ctx, source, col, enrichers) if enrichers is not None else None
    return (action,) if after is None else (action, after)


def enrichment_of(result, col: DbCollection) -> EnrichmentOutcome | None:
    """The enrichment outcome of ``col`` in an ExecutionResult, if one ran."""
    return next((e for e in result.enrichments if e.collection.id == col.id), None)


def report_of(
    source: DbSource,
    col: DbCollection,
    action: IngestCollection,
    outcome: IngestOutcome,
    times: dict,
    enrichment: EnrichmentOutcome | None = None,
) -> CollectionIngestReport:
    """A run the executor carried out (or rolled back), as the ingest commands report it, with
    the enrichment that followed it."""
    if outcome.status != RunStatus.OK:
        return failed_report(
            source, col, action, outcome.error, times, dry_run=False, run_id=outcome.run_id
        )
    return CollectionIngestReport(
        source,
        col,
        action,
        dry_run=False,
        counts=outcome.counts,
        skipped=outcome.skipped,
        degraded=outcome.degraded,
        degraded_reason=outcome.degraded_reason,
        last_ingest_time=outcome.started_at,
        run_id=outcome.run_id,
        enrichment=enrichment,
    )


def failed_report(
    source: DbSource,
    col: DbCollection,
    action: IngestCollection,
    error: BaseException | None,
    times: dict,
    *,
    dry_run: bool,
    run_id: uuid.UUID | None = None,
) -> CollectionIngestReport:
    return CollectionIngestReport(
        source,
        col,
        action,
        dry_run=dry_run,
        last_ingest_time=times[col.id][0],
        run_id=run_id,
        error=error,
    )
