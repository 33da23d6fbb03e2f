"""What `source ingest` and `collection ingest` share: the §12.3 result document."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from retrovue.model.actions import IngestCollection
from retrovue.model.counts import IngestCounts
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.render.imperative import ingest_stats

#: error codes that count as upstream failures for SI D-3 (exit 3 when every failure is one)
UPSTREAM_CODES = {"UPSTREAM_UNREACHABLE", "UPSTREAM_ERROR"}


def ingest_document(
    source: DbSource,
    collection: DbCollection,
    action: IngestCollection,
    *,
    counts: IngestCounts | None,
    skipped=(),
    degraded: bool = False,
    degraded_reason: str | None = None,
    last_ingest_time: datetime | str | None,
    run_id=None,
    dry_run: bool,
    status: str = "ok",
    verbose: dict | None = None,
) -> dict:
    counts = counts or IngestCounts()
    from retrovue.cli.imperative.common import iso

    doc = {
        "status": status,
        "scope": action.scope,
        "title": action.title,
        "season": action.season,
        "episode": action.episode,
        "collection_id": str(collection.id),
        "collection_name": collection.name,
        "source_id": str(source.id),
        "source_name": source.name,
        "stats": ingest_stats(counts),
        "skipped_reasons": [dataclasses.asdict(s) for s in skipped],
        "degraded": degraded,
        "degraded_reason": degraded_reason,
        "missing_suppressed": counts.missing_suppressed,
        "last_ingest_time": last_ingest_time
        if isinstance(last_ingest_time, str) or last_ingest_time is None
        else iso(last_ingest_time),
        "ingest_run_id": str(run_id) if run_id else None,
        "dry_run": dry_run,
    }
    if verbose is not None:
        doc.update(verbose)
    return doc
