"""`retrovue source ingest` (contracts §7): every eligible collection, each in its own unit."""

from __future__ import annotations

import click

from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.ingest_common import UPSTREAM_CODES, ingest_document
from retrovue.cli.imperative.queries import collection_times
from retrovue.cli.imperative.selectors import resolve_source
from retrovue.cli.imperative.source import source
from retrovue.cli.options import INTERRUPTED, Exit, common_options
from retrovue.errors import ImporterError, NoEligibleCollectionsError, UsageError
from retrovue.execute.executor import Executor
from retrovue.model.actions import Plan
from retrovue.model.counts import IngestCounts, sum_counts
from retrovue.observe.db import load_snapshot
from retrovue.plan import imperative as build
from retrovue.render.imperative import counts_notation, ingest_stats
from retrovue.render.progress import progress_factory

REFUSAL = (
    "Per-title/season/episode ingest is only supported at the collection level. "
    "Use: retrovue collection ingest <collection_id> [--title ... --season ... --episode ...]"
)


@source.command("ingest")
@click.argument("selector", metavar="SOURCE")
@click.option(
    "--allow-mass-missing",
    is_flag=True,
    help="Mark assets missing even above the threshold.",
)
@click.option("--title", hidden=True)
@click.option("--season", hidden=True)
@click.option("--episode", hidden=True)
@c.dry_run_option
@common_options
def ingest(app: AppContext, selector, allow_mass_missing, title, season, episode, dry_run) -> None:
    """Ingest every eligible (sync-enabled, ingestible) collection of a source."""
    if (
        title is not None or season is not None or episode is not None
    ):  # SI B-3/B-4: before any read
        raise UsageError(REFUSAL)
    with c.read_snapshot(app.engine) as conn:
        snapshot = load_snapshot(conn)
        times = collection_times(conn)
    c.register_source_secrets(app, snapshot)
    s = resolve_source(snapshot, selector)
    importer = c.importer_for(app, s)  # SI B-10
    importer.validate_connection()  # SI N-1: exit 3 unreachable / 1 auth, nothing attempted
    ordered = sorted(s.collections, key=lambda col: (col.name.casefold(), str(col.id)))
    skipped = []
    eligible = []
    for col in ordered:
        if not col.sync_enabled:
            skipped.append((col, "sync disabled"))
        elif not col.ingestible:
            skipped.append((col, "not ingestible"))
        else:
            eligible.append(col)
    if not eligible:  # SI N-2
        any_enabled = any(col.sync_enabled for col in ordered)
        raise NoEligibleCollectionsError(
            "No eligible collections" if any_enabled else "No enabled collections",
            hint="\n  ".join(f"Skipped '{col.name}': {reason}" for col, reason in skipped)
            or "the source has no collections",
        )
    source_doc = {
        "id": str(s.id),
        "name": s.name,
        "type": s.type,
        "external_id": s.external_id,
    }
    results: list[dict] = []
    lines: list[str] = []
    actions = []
    interrupted = False
    if dry_run:
        with c.read_snapshot(app.engine) as conn:
            for col in eligible:
                try:
                    action, _diff = build.plan_ingest(
                        conn,
                        importer,
                        s,
                        col,
                        allow_mass_missing=allow_mass_missing,
                        enumerate_upstream=True,
                    )
                except ImporterError as exc:
                    action, _ = build.plan_ingest(None, importer, s, col, enumerate_upstream=False)
                    results.append(
                        _failed(
                            s,
                            col,
                            action,
                            exc.code,
                            app.scrub(exc.message),
                            times,
                            True,
                        )
                    )
                    continue
                actions.append(action)
                results.append(
                    ingest_document(
                        s,
                        col,
                        action,
                        counts=action.counts,
                        skipped=action.skipped,
                        degraded=action.degraded,
                        degraded_reason=action.degraded_reason,
                        last_ingest_time=times[col.id][0],
                        dry_run=True,
                    )
                )
    else:
        plan_actions = [
            build.plan_ingest(None, importer, s, col, enumerate_upstream=False)[0]
            for col in eligible
        ]
        executor = Executor(
            app.engine,
            app.registry,
            trigger="source-ingest",
            scrub=app.scrub,
            progress=progress_factory(),
        )
        with c.write_lock(app, f"source ingest {s.id}"):
            outcome = executor.execute(
                Plan(tuple(plan_actions), allow_mass_missing=allow_mass_missing)
            )
        interrupted = outcome.interrupted
        by_id = {o.collection.id: o for o in outcome.ingests}
        for col, action in zip(eligible, plan_actions, strict=False):
            o = by_id.get(col.id)
            if o is None:
                continue  # not attempted: interrupted before it
            if o.status == "ok":
                if o.degraded:
                    app.err(
                        f"Warning: collection '{col.name}' degraded: {o.degraded_reason}; nothing marked missing"
                    )
                results.append(
                    ingest_document(
                        s,
                        col,
                        action,
                        counts=o.counts,
                        skipped=o.skipped,
                        degraded=o.degraded,
                        degraded_reason=o.degraded_reason,
                        last_ingest_time=o.started_at,
                        run_id=o.run_id,
                        dry_run=False,
                    )
                )
            else:
                message = o.error or o.status
                if o.error_hint and o.error_code == "NOT_INGESTIBLE":
                    message = f"{message}: {o.error_hint}"
                results.append(
                    _failed(
                        s,
                        col,
                        action,
                        o.error_code or "INTERRUPTED",
                        message,
                        times,
                        False,
                        o.run_id,
                    )
                )
    ok = [r for r in results if r["status"] == "ok"]
    failed = [r for r in results if r["status"] != "ok"]
    totals = sum_counts([_counts_of(r) for r in ok])
    doc = {
        "status": "ok",
        "source": source_doc,
        "collections_processed": len(results),
        "collections_succeeded": len(ok),
        "collections_failed": len(failed),
        "collections_skipped": [
            {"id": str(col.id), "name": col.name, "reason": reason} for col, reason in skipped
        ],
        "total_created_assets": totals.new,
        "total_skipped_assets": totals.unchanged + totals.unmapped,
        "total_duplicates": totals.duplicates,
        "stats": ingest_stats(totals),
        "last_ingest_time": max(
            (r["last_ingest_time"] for r in ok if r["last_ingest_time"]), default=None
        ),
        "collection_results": results,
        "errors": [
            {
                "collection_id": r["collection_id"],
                "collection_name": r["collection_name"],
                "code": r["code"],
                "message": r["message"],
            }
            for r in failed
        ],
        "dry_run": dry_run,
    }
    if interrupted:
        code = INTERRUPTED
    elif not failed:
        code = 0
    elif ok:
        code, doc["status"] = 2, "partial"
    else:
        upstream_only = all(r["code"] in UPSTREAM_CODES for r in failed)
        code = 3 if upstream_only else 1
        doc["status"] = "error"
        doc["code"] = "UPSTREAM_UNREACHABLE" if upstream_only else "ALL_COLLECTIONS_FAILED"
        doc["message"] = "All collections failed"
    lines = [
        f"Ingesting source '{s.name}' ({s.type}, {s.external_id})",
        f"Eligible collections: {len(eligible):,} of {len(ordered):,}",
    ]
    lines += [f"  Skipped '{col.name}': {reason}" for col, reason in skipped]
    for r in results:
        if r["status"] == "ok":
            lines.append(
                f"Collection '{r['collection_name']}': ok {counts_notation(_counts_of(r))}"
            )
        else:
            lines.append(f"Collection '{r['collection_name']}': failed: {r['message']}")
    lines.append(f"Totals: {counts_notation(totals)}")
    lines.append(
        f"Source ingest complete: {len(results):,} collections processed ({len(ok):,} success, {len(failed):,} failed)"
    )
    if interrupted:
        lines.append(
            "Interrupted: the collection in progress was rolled back; committed ones stay."
        )
    elif ok:
        lines.append("Success" if not failed else "Partial Success")
    if dry_run:
        c.emit_dry_run(app, Plan(tuple(actions), allow_mass_missing=allow_mass_missing), doc, lines)
    elif app.json_output:
        app.emit_json(doc)
    else:
        c.human(app, lines)
    if failed and not ok and not interrupted:
        app.err("Error: All collections failed")
    if code:
        raise Exit(code)


def _counts_of(result: dict) -> IngestCounts:
    st = result["stats"]
    return IngestCounts(
        discovered=st["assets_discovered"],
        new=st["assets_ingested"],
        changed=st["assets_updated"],
        remapped=st["assets_remapped"],
        unchanged=st["assets_unchanged"],
        missing=st["assets_missing"],
        reappeared=st["assets_reappeared"],
        duplicates=st["duplicates_prevented"],
        unmapped=st["assets_unmapped"],
        missing_suppressed=result["missing_suppressed"],
    )


def _failed(s, col, action, code, message, times, dry_run, run_id=None) -> dict:
    doc = ingest_document(
        s,
        col,
        action,
        counts=None,
        last_ingest_time=times[col.id][0],
        run_id=run_id,
        dry_run=dry_run,
        status="error",
    )
    doc["code"], doc["message"] = code, message
    return doc
