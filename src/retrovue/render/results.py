"""What apply did, for the terminal and for --json."""

from __future__ import annotations

import dataclasses

from retrovue.model.results import ExecutionResult
from retrovue.render.summary import plural
from retrovue.render.text import counts_line
from retrovue.render.values import one_line


def render_results(result: ExecutionResult) -> str:
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
            if i.degraded:
                lines.append(f"  ! degraded: {i.degraded_reason}; nothing marked missing")
        else:
            lines.append(f"{i.collection}: {i.status.upper()}: {i.message}")
    if result.interrupted:
        lines.append(
            "Interrupted: the collection in progress was rolled back; committed ones stay."
        )
    ok = sum(i.status == "ok" for i in result.ingests)
    failed = sum(i.status == "failed" for i in result.ingests)
    src_failed = sum(not s.ok for s in result.sources)
    verdict = (
        "Apply complete!"
        if not (failed or src_failed or result.interrupted)
        else "Apply finished with errors."
    )
    lines.append(
        f"{verdict} Sources: {len(result.sources) - src_failed:,} committed, {src_failed:,} failed; "
        f"collections: {plural(ok, 'ingested', 'ingested')}, {failed:,} failed."
    )
    return "\n".join(one_line(line) for line in lines) + "\n"


def results_to_json(result: ExecutionResult) -> dict:
    return {
        "interrupted": result.interrupted,
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
    }
