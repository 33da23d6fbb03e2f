"""`source ingest`: every eligible collection of a source, each in its own unit of work.

A collection is eligible when it is sync-enabled and ingestible; the others are listed with the
reason.  The upstream is checked once before anything is attempted, so an unreachable server
fails the command without a run row per collection.  Each collection's attached enrichers run
right after its ingest, as ``apply`` runs them (``enrich=False`` skips them).
"""

from __future__ import annotations

import functools

from retrovue.app.context import Context
from retrovue.app.enrichers import enricher_registry
from retrovue.app.ingest import (
    enrichment_of,
    failed_report,
    ingest_actions,
    preview_ingest,
    report_of,
    times_of,
)
from retrovue.app.selectors import resolve_source
from retrovue.errors import ImporterError, NoEligibleCollectionsError, UsageError
from retrovue.model.actions import Plan
from retrovue.model.enums import Trigger
from retrovue.model.results import SourceIngestReport
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.plan import imperative as build

NARROWING_REFUSED = (
    "Per-title/season/episode ingest is only supported at the collection level. "
    "Use: retrovue collection ingest <collection_id> [--title ... --season ... --episode ...]"
)


def eligibility(source: DbSource) -> tuple[list[DbCollection], list[tuple[DbCollection, str]]]:
    """(eligible collections, [(skipped collection, reason)]), in name order."""
    eligible, skipped = [], []
    for col in sorted(source.collections, key=lambda c: (c.name.casefold(), str(c.id))):
        if not col.sync_enabled:
            skipped.append((col, "sync disabled"))
        elif not col.ingestible:
            skipped.append((col, "not ingestible"))
        else:
            eligible.append(col)
    return eligible, skipped


def ingest_source(
    ctx: Context,
    selector: str,
    *,
    allow_mass_missing: bool = False,
    dry_run: bool = False,
    narrowed: bool = False,
    enrich: bool = True,
) -> SourceIngestReport:
    if narrowed:  # refused before anything is read
        raise UsageError(NARROWING_REFUSED)
    snapshot = ctx.snapshot()
    times = times_of(ctx)
    source = resolve_source(snapshot, selector)
    importer = ctx.importer_for(source)
    importer.validate_connection()
    eligible, skipped = eligibility(source)
    if not eligible:
        any_enabled = any(col.sync_enabled for col in source.collections)
        raise NoEligibleCollectionsError(
            "No eligible collections" if any_enabled else "No enabled collections",
            hint="\n  ".join(f"Skipped '{col.name}': {why}" for col, why in skipped)
            or "the source has no collections",
        )
    report = SourceIngestReport(
        source, len(source.collections), tuple(eligible), tuple(skipped), (), dry_run
    )
    if dry_run:
        return _preview(ctx, report, importer, times, allow_mass_missing)
    actions = [build.plan_ingest(None, importer, source, col)[0] for col in eligible]
    # each collection's enrichment right after its ingest, as apply orders them
    enrichers = functools.cache(enricher_registry) if enrich else None  # loaded once, if at all
    steps = [
        step
        for col, action in zip(eligible, actions, strict=True)
        for step in ingest_actions(ctx, source, col, action, enrichers)
    ]
    plan = Plan(tuple(steps), allow_mass_missing=allow_mass_missing, ingest_unchanged=True)
    result = ctx.run(plan, f"source ingest {source.id}", Trigger.SOURCE_INGEST)
    outcomes = {o.collection.id: o for o in result.ingests}
    reports = tuple(
        report_of(source, col, action, outcomes[col.id], times, enrichment_of(result, col))
        for col, action in zip(eligible, actions, strict=True)
        if col.id in outcomes  # a collection after an interruption was never attempted
    )
    return _replace(
        report,
        results=reports,
        interrupted=result.interrupted,
        rolled_back_on_stop=result.rolled_back_on_stop,
    )


def _preview(ctx, report, importer, times, allow_mass_missing) -> SourceIngestReport:
    results, actions = [], []
    for col in report.eligible:
        try:
            preview = preview_ingest(
                ctx, importer, report.source, col, times, allow_mass_missing=allow_mass_missing
            )
        except ImporterError as exc:
            action, _ = build.plan_ingest(None, importer, report.source, col)
            results.append(failed_report(report.source, col, action, exc, times, dry_run=True))
            continue
        actions.append(preview.action)
        results.append(preview)
    plan = Plan(tuple(actions), allow_mass_missing=allow_mass_missing, ingest_unchanged=True)
    return _replace(report, results=tuple(results), plan=plan)


def _replace(report: SourceIngestReport, **changes) -> SourceIngestReport:
    import dataclasses

    return dataclasses.replace(report, **changes)
