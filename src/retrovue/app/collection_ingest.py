"""`collection ingest`: one collection, whole or narrowed to a title/season/episode, one unit.

A narrowed ingest may run on a collection whose sync is disabled, and never marks anything
missing; one that matches nothing upstream writes nothing, not even a run row.  After the ingest
the collection's attached enrichers run, as ``apply`` runs them (``enrich=False`` skips them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.app.enrichers import enricher_registry
from retrovue.app.ingest import (
    enrichment_of,
    ingest_actions,
    preview_ingest,
    report_of,
    times_of,
)
from retrovue.app.selectors import resolve_collection
from retrovue.errors import (
    InterruptedByOperator,
    NotIngestibleError,
    NotSyncEnabledError,
    RetrovueError,
    ScopeNotFoundError,
    UsageError,
    rolled_back,
)
from retrovue.model.actions import Plan
from retrovue.model.enums import RunStatus, Scope, Trigger
from retrovue.model.results import CollectionIngestReport, IngestedAsset
from retrovue.model.stored_index import StoredIndex
from retrovue.plan import imperative as build


@dataclass(frozen=True)
class IngestRequest:
    selector: str
    title: str | None = None
    season: int | None = None
    episode: int | None = None
    allow_mass_missing: bool = False
    verbose_assets: bool = False
    dry_run: bool = False
    #: run the collection's attached enrichers after the ingest, as apply does
    enrich: bool = True

    @property
    def scope(self) -> Scope:
        return build.scope_of(self.title, self.season, self.episode)

    @property
    def narrowed(self) -> bool:
        return self.title is not None


@dataclass(frozen=True)
class CollectionIngest:
    report: CollectionIngestReport
    #: problems a dry run went past (a real run would have refused)
    warnings: tuple[str, ...] = ()
    #: a signal came as the ingest committed: it stands, and the command ends as interrupted
    interrupted_after_commit: bool = False
    #: a dry run's plan, as `--dry-run` shows it
    plan: Plan | None = None


def check_request(request: IngestRequest) -> None:
    if request.season is not None and request.title is None:
        raise UsageError("--season requires --title")
    if request.episode is not None and request.season is None:
        raise UsageError("--episode requires --season")
    if request.title is not None and not request.title.strip():
        raise UsageError("--title must not be empty")


def ingest_collection(ctx: Context, request: IngestRequest) -> CollectionIngest:
    check_request(request)
    snapshot = ctx.snapshot()
    times = times_of(ctx)
    source, col = resolve_collection(snapshot, request.selector)
    details = {"collection_id": str(col.id), "collection_name": col.name, "scope": request.scope}
    try:
        return _ingest(ctx, request, source, col, times)
    except RetrovueError as exc:  # error documents name the collection and the scope
        exc.details = {**details, **exc.details}
        raise


def _ingest(ctx, request: IngestRequest, source, col, times) -> CollectionIngest:
    importer = ctx.importer_for(source)
    warnings = []
    for refusal in _refusals(request, col):
        if not request.dry_run:
            raise refusal
        warnings.append(refusal.message)
    ok, reason = importer.check_ingestible(build.upstream_of(col), col.path_mappings)
    if not ok:
        raise NotIngestibleError(
            f"Collection '{col.name}' is not ingestible", hint=f"{reason}\n  {_show_hint(col)}"
        )
    if request.dry_run:
        report = preview_ingest(
            ctx,
            importer,
            source,
            col,
            times,
            title=request.title,
            season=request.season,
            episode=request.episode,
            allow_mass_missing=request.allow_mass_missing,
            verbose=request.verbose_assets,
        )
        if request.narrowed and report.counts.discovered == 0:
            raise _scope_not_found(request, col)
        plan = Plan((report.action,), allow_mass_missing=request.allow_mass_missing)
        return CollectionIngest(report, tuple(warnings), plan=plan)
    if request.narrowed and not _matches_anything(importer, request, col):
        raise _scope_not_found(request, col)
    action, _ = build.plan_ingest(
        None,
        importer,
        source,
        col,
        title=request.title,
        season=request.season,
        episode=request.episode,
    )
    enrichers = enricher_registry if request.enrich else None
    actions = ingest_actions(ctx, source, col, action, enrichers)
    plan = Plan(actions, allow_mass_missing=request.allow_mass_missing, ingest_unchanged=True)
    before = _asset_index(ctx, col.id) if request.verbose_assets else None
    result = ctx.run(plan, f"collection ingest {col.id}", Trigger.COLLECTION_INGEST)
    outcome = result.ingests[0]
    if outcome.status == RunStatus.INTERRUPTED:
        raise InterruptedByOperator("interrupted; the collection was rolled back")
    if outcome.status != RunStatus.OK:
        raise _failure(outcome.error, col)
    report = report_of(source, col, action, outcome, times, enrichment_of(result, col))
    if before is not None:
        report = _with_written_assets(ctx, report, before)
    # a signal that came as the ingest committed stops the command after it: reported as done
    return CollectionIngest(report, interrupted_after_commit=result.interrupted)


def _refusals(request: IngestRequest, col) -> list[RetrovueError]:
    refusals: list[RetrovueError] = []
    if not request.narrowed and not col.sync_enabled:  # a narrowed run may
        refusals.append(
            NotSyncEnabledError(
                f"Collection '{col.name}' is not sync-enabled",
                hint=f"Enable it with 'retrovue collection update {col.id} --sync-enable', or ingest a title with --title",
            )
        )
    if not col.ingestible:
        refusals.append(
            NotIngestibleError(
                f"Collection '{col.name}' is not ingestible",
                hint=f"{col.ingestible_reason or 'prerequisites not met'}\n  {_show_hint(col)}",
            )
        )
    return refusals


def _show_hint(col) -> str:
    return f"Run 'retrovue collection show {col.id}' to see why"


def _matches_anything(importer, request: IngestRequest, col) -> bool:
    probe = importer.fetch_assets_for_collection(
        col.external_id,
        filter_title=request.title,
        filter_season=request.season,
        filter_episode=request.episode,
    )
    return next(iter(probe), None) is not None


def _scope_not_found(request: IngestRequest, col) -> ScopeNotFoundError:
    title, season, episode = request.title, request.season, request.episode
    what = {
        Scope.TITLE: f"title '{title}'",
        Scope.SEASON: f"season {season} of '{title}'",
        Scope.EPISODE: f"episode S{season or 0:02d}E{episode or 0:02d} of '{title}'",
    }[request.scope]
    return ScopeNotFoundError(
        f"No items match {what} in collection '{col.name}'",
        context={"collection_id": str(col.id), "collection_name": col.name, "scope": request.scope},
    )


def _failure(error: BaseException | None, col) -> RetrovueError:
    """The typed error that rolled the unit back; a collection found not ingestible inside it
    also says where to see why."""
    if isinstance(error, NotIngestibleError):
        hint = f"{error.hint}\n  {_show_hint(col)}" if error.hint else _show_hint(col)
        return error.restated(error.message, hint=hint)
    return rolled_back(error)


def _asset_index(ctx: Context, collection_id) -> StoredIndex:
    from retrovue.observe.db import load_asset_index

    with ctx.reading() as conn:
        return load_asset_index(conn, collection_id)[0]


def _with_written_assets(
    ctx: Context, report: CollectionIngestReport, before: StoredIndex
) -> CollectionIngestReport:
    """Created/updated rows of this run, read back after commit (the run stamps the rows it
    writes with its start) and told apart by the index read before it: a row the run only marked
    missing or back is neither created nor updated."""
    from retrovue.observe.catalog import assets_written_at

    with ctx.reading() as conn:
        rows = assets_written_at(conn, report.collection.id, report.last_ingest_time)
    created, updated = [], []
    for r in rows:
        asset = IngestedAsset(
            str(r.id), r.source_uri, r.canonical_uri, r.state, r.approved_for_broadcast
        )
        change = before.change_of(r.source_uri, r.change_token, r.canonical_uri)
        if change == "created":
            created.append(asset)
        elif change is not None:
            updated.append(dataclasses.replace(asset, change=change))
    return dataclasses.replace(report, created_assets=tuple(created), updated_assets=tuple(updated))
