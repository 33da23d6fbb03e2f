"""What the ingest commands print: the per-collection result document, the source totals and
the human lines."""

from __future__ import annotations

import dataclasses

from retrovue.model.counts import IngestCounts, sum_counts
from retrovue.model.enums import Outcome, Scope
from retrovue.model.results import CollectionIngestReport, IngestedAsset, SourceIngestReport
from retrovue.render.enrichment import outcome_json, outcome_lines
from retrovue.render.results import interruption_line
from retrovue.render.values import counts_head, iso, uid


def counts_notation(c: IngestCounts) -> str:
    return (
        f"{counts_head(c)}, {c.remapped:,} remapped, "
        f"{c.duplicates:,} duplicates, {c.unmapped:,} unmapped"
    )


def skipped_count(c: IngestCounts) -> int:
    """Upstream items an ingest did not store, each for a reason (the skipped: lines name them);
    issue 19: this once counted the unchanged assets and left the skipped files out."""
    return c.unmapped + c.unusable


def ingest_stats(c: IngestCounts) -> dict:
    return {
        "assets_discovered": c.discovered,
        "assets_ingested": c.new,
        "assets_updated": c.changed,
        "assets_remapped": c.remapped,
        "assets_unchanged": c.unchanged,
        # items not stored for a reason (unchanged ones are stored already: not skipped)
        "assets_skipped": skipped_count(c),
        "assets_unmapped": c.unmapped,
        "assets_unusable": c.unusable,
        "duplicates_prevented": c.duplicates,
        "assets_missing": c.missing,
        "assets_reappeared": c.reappeared,
        "assets_auto_ready": 0,
        "assets_needs_enrichment": c.new + c.changed,
        "assets_needs_review": 0,
    }


def _asset(a: IngestedAsset) -> dict:
    doc = {
        "id": uid(a.id),  # a dry run's ids come from the index, as the database spells them
        "source_uri": a.source_uri,
        "canonical_uri": a.canonical_uri,
        "state": a.state,
        "approved_for_broadcast": a.approved_for_broadcast,
    }
    if a.change is not None:
        doc["change"] = a.change
    return doc


def failure_message(r: CollectionIngestReport) -> str:
    message = r.message or "failed"
    hint = getattr(r.error, "hint", None)
    if hint and r.code == "NOT_INGESTIBLE":
        message = f"{message}: {hint}"
    return message


def collection_document(r: CollectionIngestReport) -> dict:
    counts = r.counts or IngestCounts()
    action = r.action
    doc = {
        "status": "ok" if r.ok else "error",
        "scope": action.scope,
        "title": action.title,
        "season": action.season,
        "episode": action.episode,
        "collection_id": str(r.collection.id),
        "collection_name": r.collection.name,
        "source_id": str(r.source.id),
        "source_name": r.source.name,
        "stats": ingest_stats(counts),
        "skipped_reasons": [dataclasses.asdict(s) for s in r.skipped],
        "degraded": r.degraded,
        "degraded_reason": r.degraded_reason,
        "missing_suppressed": counts.missing_suppressed,
        "last_ingest_time": iso(r.last_ingest_time),
        "ingest_run_id": str(r.run_id) if r.run_id else None,
        "dry_run": r.dry_run,
    }
    if r.created_assets is not None:
        doc["created_assets"] = [_asset(a) for a in r.created_assets]
        doc["updated_assets"] = [_asset(a) for a in r.updated_assets or ()]
    # the enrichment after the ingest, as apply's results give it; null when none ran
    doc["enrichment"] = outcome_json(r.enrichment) if r.enrichment is not None else None
    if not r.ok:
        doc["code"], doc["message"] = r.code or "INTERRUPTED", failure_message(r)
    return doc


def source_document(report: SourceIngestReport) -> dict:
    s, ok, failed = report.source, report.succeeded, report.failed
    totals = sum_counts([r.counts for r in ok if r.counts])
    doc = {
        "status": "ok",
        "source": {"id": str(s.id), "name": s.name, "type": s.type, "external_id": s.external_id},
        "collections_processed": len(report.results),
        "collections_succeeded": len(ok),
        "collections_failed": len(failed),
        "collections_skipped": [
            {"id": str(col.id), "name": col.name, "reason": why} for col, why in report.skipped
        ],
        "total_created_assets": totals.new,
        "total_skipped_assets": skipped_count(totals),
        "total_duplicates": totals.duplicates,
        "stats": ingest_stats(totals),
        "last_ingest_time": max(
            (iso(r.last_ingest_time) for r in ok if r.last_ingest_time), default=None
        ),
        "collection_results": [collection_document(r) for r in report.results],
        "errors": [
            {
                "collection_id": str(r.collection.id),
                "collection_name": r.collection.name,
                "code": r.code or "INTERRUPTED",
                "message": failure_message(r),
            }
            for r in failed
        ],
        "dry_run": report.dry_run,
    }
    outcome = report.outcome
    if outcome == Outcome.PARTIAL:
        doc["status"] = "partial"
    elif outcome in (Outcome.FAILED, Outcome.UNREACHABLE):
        doc["status"] = "error"
        doc["code"] = "UPSTREAM_UNREACHABLE" if report.upstream_only else "ALL_COLLECTIONS_FAILED"
        doc["message"] = "All collections failed"
    return doc


def source_lines(report: SourceIngestReport) -> list[str]:
    s, ok, failed = report.source, report.succeeded, report.failed
    lines = [
        f"Ingesting source '{s.name}' ({s.type}, {s.external_id})",
        f"Eligible collections: {len(report.eligible):,} of {report.collections_total:,}",
    ]
    lines += [f"  Skipped '{col.name}': {why}" for col, why in report.skipped]
    for r in report.results:
        if r.ok:
            lines.append(f"Collection '{r.collection.name}': ok {counts_notation(r.counts)}")
            lines += enrichment_lines(r)
        else:
            lines.append(f"Collection '{r.collection.name}': failed: {failure_message(r)}")
    lines.append(f"Totals: {counts_notation(sum_counts([r.counts for r in ok if r.counts]))}")
    lines.append(
        f"Source ingest complete: {len(report.results):,} collections processed "
        f"({len(ok):,} success, {len(failed):,} failed)"
    )
    if report.interrupted:
        lines.append(interruption_line(report.rolled_back_on_stop))
    elif ok:
        lines.append("Success" if not failed else "Partial Success")
    return lines


def ingest_header(scope: Scope, name: str, title, season, episode) -> str:
    if scope == Scope.EPISODE:
        return (
            f"Ingesting episode S{season:02d}E{episode:02d} of '{title}' from collection '{name}'"
        )
    if scope == Scope.SEASON:
        return f"Ingesting season {season} of '{title}' from collection '{name}'"
    if scope == Scope.TITLE:
        return f"Ingesting title '{title}' from collection '{name}'"
    return f"Ingesting entire collection '{name}'"


def collection_lines(r: CollectionIngestReport) -> list[str]:
    a, c = r.action, r.counts or IngestCounts()
    lines = [
        ingest_header(a.scope, r.collection.name, a.title, a.season, a.episode),
        f"Assets discovered: {c.discovered:,}",
        f"Assets ingested: {c.new:,}",
        f"Assets updated: {c.changed:,}",
        f"Assets remapped: {c.remapped:,}",
        f"Assets unchanged: {c.unchanged:,}",
        f"Assets skipped: {skipped_count(c):,} (unmapped: {c.unmapped:,}, other reasons: {c.unusable:,})",
        f"Duplicates prevented: {c.duplicates:,}",
        f"Assets marked missing: {c.missing:,}",
        f"Assets reappeared: {c.reappeared:,}",
    ]
    lines += [f"  skipped: {s.reason} ({s.count:,}, e.g. {s.example})" for s in r.skipped]
    lines.append(f"Ingest complete for collection '{r.collection.name}'")
    return lines + enrichment_lines(r)


def enrichment_lines(r: CollectionIngestReport) -> list[str]:
    """The enrichment after the ingest, in the lines apply prints for it; none when none ran."""
    return outcome_lines(r.enrichment) if r.enrichment is not None else []


def degraded_warning(r: CollectionIngestReport) -> str | None:
    if not r.degraded:
        return None
    if r.counts is not None and r.counts.missing:
        verb = "would be marked" if r.dry_run else "marked"
        would = f"{r.counts.missing:,} {verb} missing anyway (--allow-mass-missing)"
    else:
        would = "nothing would be marked missing" if r.dry_run else "nothing marked missing"
    return f"Warning: collection '{r.collection.name}' degraded: {r.degraded_reason}; {would}"
