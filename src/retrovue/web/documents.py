"""JSON documents of what only the server shows (the CLI's own documents are reused as they are)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from retrovue.render.assets import show_document as asset_document
from retrovue.render.collections import show_document as collection_document
from retrovue.render.values import iso

__all__ = ["asset_document", "collection_document"]


def listed_asset(item, collection: dict[str, str]) -> dict[str, Any]:
    """An asset of a listing; ``collection``: its collection's part, one per collection on a page
    (not a hundred alike: ~0.1 ms of an API page's CPU).  Its id stays a UUID, which the API's
    JSON writer writes as text in C (``str()`` took 0.05-0.08 ms a page of 100)."""
    a = item.asset
    return {
        "id": a.id,
        "collection": collection,
        "kind": a.kind,
        "title": a.title,
        "series_title": a.series_title,
        "season_number": a.season_number,
        "episode_number": a.episode_number,
        "year": a.year,
        "canonical_uri": a.canonical_uri,
        "duration_ms": a.duration_ms,
        "loudness_lufs": a.loudness_lufs,
        "state": a.state,
        "approved_for_broadcast": a.approved_for_broadcast,
        "missing_since": None if a.missing_since is None else iso(a.missing_since),
    }


def page_document(listing, items: list) -> dict[str, Any]:
    f, page = listing.filters, listing.assets
    return {
        "status": "ok",
        "filters": {
            "collection": str(listing.collection.id) if listing.collection else None,
            "source": str(listing.source.id) if listing.source else None,
            "state": f.state,
            "kind": f.kind,
            "approved": f.approved,
            "missing": f.missing,
            "q": f.search,
            "limit": f.page_size,
            "after": f.after,
        },
        "assets": [
            listed_asset(i, part) for i, part in zip(items, _collection_parts(items), strict=True)
        ],
        "total": page.count,
        "truncated": page.more,
        "next_after": str(page.next_after) if page.next_after else None,
    }


def _collection_parts(items: list) -> Iterator[dict[str, str]]:
    """Each item's collection part: one per run of items of one collection (a listing's order
    keeps a collection's items together).  Compared by identity first: a page of one collection
    carries one id object (``observe.assets.collection_page``); UUID equality is Python code."""
    last_id = part = None
    for item in items:
        cid = item.asset.collection_id
        if part is None or (cid is not last_id and cid != last_id):
            last_id, part = cid, {"id": str(cid), "name": item.collection_name}
        yield part


def run_json(run) -> dict[str, Any]:
    return {
        "id": str(run.id),
        "collection": None
        if run.collection_id is None
        else {"id": str(run.collection_id), "name": run.collection_name, "source": run.source_name},
        "trigger": run.trigger,
        "scope": run.scope,
        "status": run.status,
        "counts": run.counts,
        "error": run.error,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
    }


def failure_json(f) -> dict[str, Any]:
    return {
        "asset_id": str(f.asset_id),
        "collection_id": str(f.collection_id),
        "canonical_uri": f.canonical_uri,
        "title": f.title,
        "enricher": f.enricher_type,
        "code": f.error_code,
        "message": f.error_message,
        "at": iso(f.enriched_at),
    }


def scoped_document(scoped, key: str, item) -> dict[str, Any]:
    return {
        "status": "ok",
        "collection": str(scoped.collection.id) if scoped.collection else None,
        key: [item(r) for r in scoped.rows],
    }


def bins_json(bins) -> dict[str, Any] | None:
    if bins is None:
        return None
    return {"low": bins.low, "width": bins.width, "counts": list(bins.counts)}


def collection_view_document(view) -> dict[str, Any]:
    return {
        **collection_document(view.detail),
        "config_error": view.config_error,
        "states": dict(sorted(view.states.items())),
        "failures": [failure_json(f) for f in view.failures],
        "histograms": {
            "duration_ms": bins_json(view.duration),
            "loudness_lufs": bins_json(view.loudness),
        },
    }


def overview_document(overview) -> dict[str, Any]:
    return {
        "status": "ok",
        "sources": [
            {
                "id": str(s.source.id),
                "name": s.source.name,
                "type": s.source.type,
                "available": s.available,
                "drift": {"state": s.drift.state, "details": list(s.drift.details)},
                "last_reconcile": dataclasses.asdict(s.last_reconcile)
                if s.last_reconcile
                else None,
                "collections": [
                    {
                        "id": str(c.entry.collection.id),
                        "name": c.entry.collection.name,
                        "sync_enabled": c.entry.collection.sync_enabled,
                        "ingestible": c.entry.collection.ingestible,
                        "assets": c.entry.assets,
                        "missing": c.entry.missing,
                        "failed": c.failed,
                        "last_ingest": iso(c.entry.last_ingest),
                        "last_run": run_json(c.last_run) if c.last_run else None,
                    }
                    for c in s.collections
                ],
            }
            for s in overview.sources
        ],
        "locks": [i.to_json() for i in overview.locks],
        "config_file": overview.config_file,
        "declared_only": list(overview.declared_only),
    }


def approval_document(done) -> dict[str, Any]:
    return {
        "status": "ok",
        "approved": done.approved,
        "asset_ids": [str(i) for i in done.asset_ids],
        "collections": done.collections,
    }
