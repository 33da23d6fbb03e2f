"""What `collection list`, `collection show` and `collection update` print."""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrovue.render.enrichment import attached_lines, change_json
from retrovue.render.table import table_lines
from retrovue.render.values import count_noun, iso, yes_no

if TYPE_CHECKING:
    from retrovue.app.collection_read import CollectionDetail, CollectionEntry, CollectionListing
    from retrovue.app.collection_update import CollectionUpdate
    from retrovue.model.snapshots import DbCollection, DbSource


def mapping_line(upstream_path: str, local_path: str | None) -> str:
    return f"    \u2022 {upstream_path} -> {local_path if local_path is not None else '(unmapped)'}"


def mappings_json(col: DbCollection) -> list[dict]:
    return [{"plex_path": m.upstream_path, "local_path": m.local_path} for m in col.path_mappings]


def mapping_lines(col: DbCollection) -> list[str]:
    if not col.path_mappings:
        return ["  Path Mappings: none"]
    return ["  Path Mappings:"] + [
        mapping_line(m.upstream_path, m.local_path) for m in col.path_mappings
    ]


def _identity(s: DbSource, col: DbCollection) -> dict:
    """The keys `collection list` items and `collection show` share, in this order."""
    return {
        "id": str(col.id),
        "external_id": col.external_id,
        "name": col.name,
        "source_id": str(s.id),
        "source_name": s.name,
        "source_type": s.type,
        "sync_enabled": col.sync_enabled,
        "ingestible": col.ingestible,
    }


# -- list ---------------------------------------------------------------------------------------


def _list_item(e: CollectionEntry) -> dict:
    return {
        **_identity(e.source, e.collection),
        "assets_count": e.assets,
        "missing_count": e.missing,
        "last_ingest_time": iso(e.last_ingest),
        "created_at": iso(e.created_at),
        "updated_at": iso(e.updated_at),
        "path_mappings": mappings_json(e.collection),
    }


def list_document(listing: CollectionListing) -> dict:
    items = [_list_item(e) for e in listing.entries]
    doc = {"status": "ok", "total": len(items), "collections": items}
    if listing.source is not None:
        s = listing.source
        doc["source"] = {"id": str(s.id), "name": s.name, "type": s.type}
    return doc


def list_lines(listing: CollectionListing) -> list[str]:
    if not listing.entries:
        return ["No collections found", "Total: 0 collections"]
    headers = ["SOURCE", "COLLECTION", "SYNC", "INGESTIBLE", "ASSETS", "LAST INGEST", "ID"]
    rows = [
        [
            e.source.name,
            e.collection.name,
            yes_no(e.collection.sync_enabled),
            yes_no(e.collection.ingestible),
            f"{e.assets:,}",
            iso(e.last_ingest) or "Never",
            str(e.collection.id),
        ]
        for e in listing.entries
    ]
    lines = table_lines(headers, rows)
    lines.append(f"Total: {count_noun(len(listing.entries), 'collection')}")
    return lines


# -- show ---------------------------------------------------------------------------------------


def _run(run) -> dict | None:
    if run is None:
        return None
    return {
        "id": str(run.id),
        "trigger": run.trigger,
        "scope": run.scope,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "error": run.error,
    }


def show_document(detail: CollectionDetail) -> dict:
    e = detail.entry
    return {
        "status": "ok",
        **_identity(e.source, e.collection),
        "ingestible_reason": detail.ingestible_reason,
        "path_mappings": mappings_json(e.collection),
        "stats": {"assets_count": e.assets, "missing_count": e.missing},
        "last_ingest_time": iso(e.last_ingest),
        "last_run": _run(detail.last_run),
        "enrichers": [x.to_json() for x in detail.enrichers],
        "enrichment": _progress_json(detail.enrichment),
        "created_at": iso(e.created_at),
        "updated_at": iso(e.updated_at),
    }


def _progress_json(progress) -> dict | None:
    if progress is None:
        return None
    return {
        "to_enrich": progress.to_enrich,
        "claimed": progress.claimed,
        "expired_claims": progress.expired,
    }


def _progress_text(progress) -> str:
    """``12 assets to enrich, 4 claimed by workers`` (``, 2 expired claims`` after a worker
    died)."""
    text = f"{progress.to_enrich:,} asset{'' if progress.to_enrich == 1 else 's'} to enrich"
    text += f", {progress.claimed:,} claimed by workers"
    if progress.expired:
        text += f", {progress.expired:,} expired claim{'' if progress.expired == 1 else 's'}"
    return text


def show_lines(detail: CollectionDetail) -> list[str]:
    e, run = detail.entry, detail.last_run
    s, col = e.source, e.collection
    lines = [
        f"Collection: {col.name}",
        f"  ID: {col.id}",
        f"  External ID: {col.external_id}",
        f"  Source: {s.name} ({s.type}, {s.id})",
        f"  Sync Enabled: {yes_no(col.sync_enabled)}",
        f"  Ingestible: {yes_no(col.ingestible)}",
    ]
    if detail.ingestible_reason:
        lines.append(f"  Not ingestible because: {detail.ingestible_reason}")
    lines += mapping_lines(col)
    lines.append(f"  Assets: {e.assets:,} (missing: {e.missing:,})")
    lines.append(f"  Last Ingest: {iso(e.last_ingest) or 'Never'}")
    if run is not None:
        lines.append(f"  Last Run: {run.status} {run.trigger} {run.scope} at {iso(run.started_at)}")
    else:
        lines.append("  Last Run: none")
    lines += attached_lines("Enrichers", detail.enrichers)
    if detail.enrichment is not None:
        lines.append("  Enrichment: " + _progress_text(detail.enrichment))
    lines += [f"  Created: {iso(e.created_at)}", f"  Updated: {iso(e.updated_at)}"]
    return lines


# -- update -------------------------------------------------------------------------------------


def update_document(u: CollectionUpdate) -> dict:
    col, change, mapping = u.collection, u.change, u.change.path_mapping
    return {
        "status": "ok",
        "id": str(col.id),
        "external_id": col.external_id,
        "name": col.name,
        "operation": change.operations,
        "sync_enabled": change.sync_enabled,
        "ingestible": change.ingestible,
        "ingestible_reason": change.ingestible_reason,
        "updated": bool(change.actions),
        "updated_at": iso(u.updated_at),
        "message": _noop_message(u),
        "path_mapping": {"plex_path": mapping.upstream_path, "local_path": mapping.local_path}
        if mapping
        else None,
        "enricher": change_json(u.enrichers) if u.enrichers is not None else None,
        "dry_run": u.dry_run,
    }


def _noop_message(u: CollectionUpdate) -> str | None:
    """Why nothing changed; None when something did."""
    if u.change.actions:
        return None
    messages = [u.change.noop_message, u.enrichers.noop_message if u.enrichers else None]
    return "; ".join(m for m in messages if m) or None


def update_lines(u: CollectionUpdate) -> list[str]:
    change = u.change
    if not change.actions:
        return [_noop_message(u) or f"Collection '{u.collection.name}': nothing changed"]
    lines = [f"Successfully updated collection: {u.collection.name}"] + [
        f"  {label}: {before} -> {after}" for label, before, after in change.changes
    ]
    enricher_line = u.enrichers.change_line() if u.enrichers is not None else None
    if enricher_line:
        lines.append(f"  {enricher_line}")
    return lines


def update_warning(u: CollectionUpdate) -> str | None:
    if not u.still_enabled_unusable:
        return None
    return (
        f"Warning: collection '{u.collection.name}' is still sync-enabled but no longer ingestible"
    )
