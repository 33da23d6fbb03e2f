"""What `retrovue status` prints: one block per source."""

from __future__ import annotations

from typing import Any


def status_document(status) -> dict[str, Any]:
    return {"status": "ok", **status.to_json()}


def _in_sync(s) -> str:
    if s.in_sync is None:
        return f"unknown ({s.sync_detail})" if s.sync_detail else "unknown"
    return "yes" if s.in_sync else f"no: {s.sync_detail}"


def _reconcile(r) -> str:
    if r is None:
        return "never"
    text = f"{r.at or '?'} by {r.trigger}: {r.outcome}"
    if r.collection:
        text += f' (collection "{r.collection}")'
    return text


def _assets(tally: dict[str, int]) -> str:
    if not tally:
        return "none"
    return ", ".join(f"{n:,} {state}" for state, n in tally.items())


def status_text(status) -> list[str]:
    if not status.sources:
        return [f"No sources in {status.database}."]
    lines = []
    for s in status.sources:
        lines.append(f'source "{s.name}" ({s.type})' + ("" if s.id else " - not created yet"))
        lines.append(f"  last reconcile: {_reconcile(s.last_reconcile)}")
        lines.append(f"  in sync:        {_in_sync(s)}")
        lines.append(f"  assets:         {_assets(s.assets)}")
        lines.append(f"  enrichment:     {s.backlog_new:,} to enrich, {s.backlog_failed:,} failed")
        if s.watched_by:
            lines.append(f"  watched by:     {s.watched_by}")
        if s.last_error is not None:
            where = f' (collection "{s.last_error.collection}")' if s.last_error.collection else ""
            lines.append(
                f"  last error:     {s.last_error.at or '?'}{where}: {s.last_error.message}"
            )
    return lines
