"""What `asset list` and `asset show` print."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from retrovue.model.enrichment import PROBED_COLUMNS
from retrovue.render.table import table_lines
from retrovue.render.values import iso, yes_no

if TYPE_CHECKING:
    from retrovue.app.asset_read import AssetDetail, AssetListing
    from retrovue.model.catalog import AssetRecord, ListedAsset

_DESCRIPTIVE = (
    "source_uri",
    "canonical_uri",
    "kind",
    "title",
    "series_title",
    "season_number",
    "episode_number",
    "year",
    "duration_ms",
    "size",
)


#: what enrichers found, shown by `asset show` (issue 11)
_PROBED = PROBED_COLUMNS


def _descriptive(a: AssetRecord) -> dict:
    return {f: getattr(a, f) for f in _DESCRIPTIVE}


def enrichment_records(metadata: dict | None) -> list[dict]:
    """Per enricher type, what ``metadata["enrichers"]`` records (without the facts themselves,
    which ``metadata`` holds): version, change token, when, and the error if it failed."""
    stored = (metadata or {}).get("enrichers") if isinstance(metadata, dict) else None
    if not isinstance(stored, dict):
        return []
    records = []
    for type_id in sorted(stored):
        entry = stored[type_id] if isinstance(stored[type_id], dict) else {}
        error = entry.get("error") if isinstance(entry.get("error"), dict) else None
        records.append(
            {
                "type": type_id,
                "version": entry.get("version"),
                "change_token": entry.get("change_token"),
                "enriched_at": entry.get("enriched_at"),
                "ok": error is None,
                "error": {"code": error.get("code"), "message": error.get("message")}
                if error
                else None,
            }
        )
    return records


def _listed(item: ListedAsset) -> dict:
    a = item.asset
    return {
        "id": str(a.id),
        "collection": {"id": str(a.collection_id), "name": item.collection_name},
        **_descriptive(a),
        "state": a.state,
        "approved_for_broadcast": a.approved_for_broadcast,
        "missing_since": iso(a.missing_since),
        "discovered_at": iso(a.discovered_at),
    }


def list_document(listing: AssetListing) -> dict:
    items = [_listed(i) for i in listing.assets]
    f = listing.filters
    return {
        "status": "ok",
        "total": len(items),
        "truncated": listing.truncated,
        "assets": items,
        "filters": {
            "collection": str(listing.collection.id) if listing.collection else None,
            "state": f.state,
            "approved": f.approved,
            "missing": f.missing,
            "limit": f.limit,
        },
    }


def list_lines(listing: AssetListing) -> list[str]:
    if not listing.assets:
        return ["No assets found", "Total: 0 assets"]
    headers = ["SOURCE", "COLLECTION", "STATE", "APPROVED", "MISSING", "URI", "ID"]
    rows = [
        [
            listing.source_names.get(i.asset.collection_id, "-"),
            i.collection_name,
            i.asset.state,
            yes_no(i.asset.approved_for_broadcast),
            iso(i.asset.missing_since) or "-",
            i.asset.canonical_uri,
            str(i.asset.id),
        ]
        for i in listing.assets
    ]
    lines = table_lines(headers, rows)
    n = len(listing.assets)
    lines.append(f"Total: {n:,} asset{'s' if n != 1 else ''}")
    if listing.truncated:
        lines.append(f"(limited to {listing.filters.limit}; more assets match)")
    return lines


def show_document(detail: AssetDetail) -> dict:
    a, owner = detail.asset, detail.owner
    return {
        "status": "ok",
        "id": str(a.id),
        "collection": {
            "id": str(owner.collection_id),
            "name": owner.collection_name,
            "source": {
                "id": str(owner.source_id),
                "name": owner.source_name,
                "type": owner.source_type,
            },
        },
        **_descriptive(a),
        **{f: getattr(a, f) for f in _PROBED},
        "change_token": a.change_token,
        "state": a.state,
        "approved_for_broadcast": a.approved_for_broadcast,
        "missing_since": iso(a.missing_since),
        "enrichers": enrichment_records(a.metadata),
        "metadata": a.metadata,
        "discovered_at": iso(a.discovered_at),
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
    }


def show_lines(detail: AssetDetail) -> list[str]:
    """One `  <Field>: <value>` line per key of the JSON document, in its order."""
    owner = detail.owner
    lines = [f"Asset: {detail.asset.id}"]
    for key, value in show_document(detail).items():
        if key in ("status", "id"):
            continue
        label = (
            key.replace("_", " ")
            .title()
            .replace("Uri", "URI")
            .replace("Ms", "(ms)")
            .replace("Lufs", "(LUFS)")
        )
        if key == "enrichers":
            lines += _enricher_lines(label, value)
            continue
        if key == "collection":
            value = (
                f"{owner.collection_name} ({owner.collection_id}); "
                f"source {owner.source_name} ({owner.source_type}, {owner.source_id})"
            )
        elif key == "metadata":
            text = json.dumps(value, indent=2, sort_keys=True) if value is not None else "null"
            lines.append(f"  {label}:")
            lines += ["    " + line for line in text.splitlines()]
            continue
        elif isinstance(value, bool):
            value = yes_no(value)
        elif value is None:
            value = "-"
        lines.append(f"  {label}: {value}")
    return lines


def _enricher_lines(label: str, records: list[dict]) -> list[str]:
    """`    ffprobe: version 1, token …, at …: ok` (or the error's code and message)."""
    if not records:
        return [f"  {label}: none"]
    lines = [f"  {label}:"]
    for r in records:
        head = (
            f"    {r['type']}: version {r['version']}, change token {r['change_token']}, "
            f"at {r['enriched_at']}"
        )
        error = r["error"]
        lines.append(head + (f": {error['code']}: {error['message']}" if error else ": ok"))
    return lines
