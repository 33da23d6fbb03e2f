"""What apply did, for the terminal and for --json."""

from __future__ import annotations

import dataclasses

from retrovue.model.actions import Plan, unit_of
from retrovue.model.enums import Unit
from retrovue.model.results import ExecutionResult
from retrovue.render.enrichment import outcome_json, outcome_lines, totals
from retrovue.render.summary import plural
from retrovue.render.text import counts_line, guard_outcome
from retrovue.render.values import one_line


def not_attempted(plan: Plan, result: ExecutionResult) -> list[str]:
    """Collections the plan meant to ingest that the run never reached (it stopped first)."""
    reached = {str(i.collection) for i in result.ingests}
    return [
        str(a.collection)
        for a in plan.actions
        if unit_of(a) == Unit.INGEST
        and (a.counts.has_changes or plan.ingest_unchanged)
        and str(a.collection) not in reached
    ]


def enrichments_not_attempted(plan: Plan, result: ExecutionResult) -> list[str]:
    """Collections the plan meant to enrich that the run never reached (it stopped first)."""
    reached = {str(e.collection) for e in result.enrichments}
    return [
        str(a.collection)
        for a in plan.actions
        if unit_of(a) == Unit.ENRICH
        and (a.total > 0 or a.force or a.stuck > 0)
        and str(a.collection) not in reached
    ]


def _left_as_they_were(plan: Plan, result: ExecutionResult) -> list[str]:
    """Collections with nothing to write are not ingested, but what their listing skipped is
    still said: a collection whose files were all unmapped must not vanish from the report."""
    reached = {str(i.collection) for i in result.ingests}
    lines = []
    for a in plan.actions:
        if unit_of(a) != Unit.INGEST or not a.skipped or str(a.collection) in reached:
            continue
        if a.counts.has_changes or plan.ingest_unchanged:
            continue  # it was meant to run: NOT ATTEMPTED says why it did not
        lines.append(f"{a.collection}: nothing to write ({counts_line(a.counts)})")
        lines += [f"  skipped: {s.reason} ({s.count:,}, e.g. {s.example})" for s in a.skipped]
    return lines


def plan_failures(plan: Plan) -> list[str]:
    """What could not even be planned: the apply is partial because of them."""
    return [
        f'source "{p.source}"'
        + (f' collection "{p.collection}"' if p.collection else "")
        + f": NOT PLANNED ({p.kind}): {p.message}"
        for p in plan.problems
    ]


def render_results(result: ExecutionResult, plan: Plan | None = None) -> str:
    lines = [""]
    for s in result.sources:
        lines.append(
            f'source "{s.source}": '
            + ("changes committed" if s.ok else f"FAILED, rolled back: {s.message}")
        )
    for i in result.ingests:
        if i.status == "ok":
            line = f"{i.collection}: ingested {counts_line(i.counts)}"
            if i.counts != i.planned:
                line += f" (planned {counts_line(i.planned)}: upstream moved since the plan)"
            lines.append(line)
            # every item not stored, by reason: a collection whose files were all unmapped
            # must not look like one with nothing new
            lines += [f"  skipped: {s.reason} ({s.count:,}, e.g. {s.example})" for s in i.skipped]
            if i.degraded:
                lines.append(
                    f"  ! degraded: {i.degraded_reason}; {guard_outcome(i.counts, planned=False)}"
                )
        else:
            lines.append(f"{i.collection}: {i.status.upper()}: {i.message}")
    lines += _left_as_they_were(plan, result) if plan is not None else []
    for e in result.enrichments:
        lines += outcome_lines(e)
    failed_at_plan = plan_failures(plan) if plan is not None else []
    lines += failed_at_plan
    skipped = not_attempted(plan, result) if plan is not None else []
    lines += [f"{address}: NOT ATTEMPTED: the run stopped before it" for address in skipped]
    if plan is not None and (result.interrupted or result.lock_lost is not None):
        lines += [
            f"{address}: enrichment NOT ATTEMPTED: the run stopped before it"
            for address in enrichments_not_attempted(plan, result)
        ]
    if result.interrupted:
        lines.append(interruption_line(result.rolled_back_on_stop))
    if result.lock_lost is not None:
        lines.append(
            "Stopped: the apply lock was lost; committed units stay, the unit in progress "
            "was rolled back and nothing after it ran."
        )
    ok = sum(i.status == "ok" for i in result.ingests)
    failed = sum(i.status == "failed" for i in result.ingests) + len(failed_at_plan)
    src_failed = sum(not s.ok for s in result.sources)
    enrich_failed = sum(not e.ok for e in result.enrichments)
    verdict = (
        "Apply complete!"
        if not (
            failed
            or src_failed
            or enrich_failed
            or result.interrupted
            or result.lock_lost
            or skipped
        )
        else "Apply finished with errors."
    )
    lines.append(
        f"{verdict} Sources: {len(result.sources) - src_failed:,} committed, {src_failed:,} failed; "
        f"collections: {plural(ok, 'ingested', 'ingested')}, {failed:,} failed"
        + (f", {len(skipped):,} not attempted" if skipped else "")
        + (f"; {totals(result.enrichments)}" if result.enrichments else "")
        + "."
    )
    return "\n".join(one_line(line) for line in lines) + "\n"


def results_to_json(result: ExecutionResult, plan: Plan | None = None) -> dict:
    return {
        "interrupted": result.interrupted,
        "not_attempted": not_attempted(plan, result) if plan is not None else [],
        "lock_lost": getattr(result.lock_lost, "message", None),
        "sources": [
            {"source": s.source, "ok": s.ok, "error": s.message, "error_code": s.code}
            for s in result.sources
        ],
        "collections": [
            {
                "address": str(i.collection),
                "collection_id": str(i.collection.id) if i.collection.id else None,
                "status": i.status,
                "planned": dataclasses.asdict(i.planned),
                "counts": dataclasses.asdict(i.counts) if i.counts else None,
                "error": i.message,
                "error_code": i.code,
                "ingest_run_id": str(i.run_id) if i.run_id else None,
                "degraded": i.degraded,
                "degraded_reason": i.degraded_reason,
            }
            for i in result.ingests
        ],
        "enrichments": [outcome_json(e) for e in result.enrichments],
    }


def interruption_line(rolled_back: bool) -> str:
    if rolled_back:
        return "Interrupted: the collection in progress was rolled back; committed ones stay."
    return (
        "Interrupted as a unit committed: it stands, nothing was rolled back, nothing after it ran."
    )
