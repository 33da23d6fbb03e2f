"""What `asset list` and `asset show` print."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING

from retrovue.model.enrichment import PROBED_COLUMNS
from retrovue.render.table import table_lines
from retrovue.render.values import count_noun, iso, yes_no

if TYPE_CHECKING:
    from retrovue.app.asset_read import AssetDetail, AssetListing
    from retrovue.model.catalog import AssetRecord, AssetSummary, ListedAsset

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


def _descriptive(a: AssetRecord | AssetSummary) -> dict:
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


def list_json(listing: AssetListing) -> Iterator[str]:
    """The listing's JSON document in pieces, each asset written as it is read (`--all` holds no
    list): ``status`` and ``filters``, then ``assets``, then what only the end of the assets
    tells: ``total`` (listed), ``truncated`` (more match) and ``next_after`` (the id for
    ``--after``, or null)."""
    page, f = listing.assets, listing.filters
    head = {
        "status": "ok",
        "filters": {
            "collection": str(listing.collection.id) if listing.collection else None,
            "state": f.state,
            "approved": f.approved,
            "missing": f.missing,
            "limit": f.page_size,
            "after": f.after,
        },
    }

    def tail() -> dict:
        return {
            "total": page.count,
            "truncated": page.more,
            "next_after": str(page.next_after) if page.next_after else None,
        }

    return _streamed_document(head, "assets", (_listed(i) for i in page), tail)


def _streamed_document(
    head: dict, key: str, items: Iterable[dict], tail: Callable[[], dict]
) -> Iterator[str]:
    """``{**head, key: [*items], **tail()}`` as ``json.dumps(indent=2)`` writes it, plus a line
    break, in pieces: one per item, so the list is never held; ``tail`` is asked once the items
    are through."""
    yield (
        "{\n"
        + "".join(f"  {_member(k, v)},\n" for k, v in head.items())
        + f"  {json.dumps(key)}: ["
    )
    listed = False
    for item in items:
        yield ("," if listed else "") + "\n" + _nested(item, "    ")
        listed = True
    yield "\n  ]" if listed else "]"
    yield "".join(f",\n  {_member(k, v)}" for k, v in tail().items()) + "\n}\n"


def _member(key: str, value) -> str:
    return f"{json.dumps(key)}: " + _nested(value, "  ").lstrip(" ")


def _nested(value, indent: str) -> str:
    # json.dumps escapes line breaks inside strings, so every line here is JSON structure
    text = json.dumps(value, indent=2, default=str)
    return "\n".join(indent + line for line in text.split("\n"))


def list_lines(listing: AssetListing) -> Iterator[str]:
    """The table, laid out per ``TABLE_BLOCK`` rows as they are read (one header); then the
    total and, when more match, how to get the next page."""
    page = listing.assets
    for n, block in enumerate(_blocks(page, TABLE_BLOCK)):
        lines = table_lines(_HEADERS, [_row(listing, i) for i in block])
        yield from lines if n == 0 else lines[1:]
    if page.count == 0:
        yield "No assets found"
    yield f"Total: {count_noun(page.count, 'asset')}"
    if page.more:
        yield f"(limited to {page.size:,}; more assets match; --all lists every one)"
        yield f"Next page: {next_page_command(listing)}"


#: rows laid out together: a table of a million rows is never held, and its columns align
#: within each block
TABLE_BLOCK = 1_000
_HEADERS = ["SOURCE", "COLLECTION", "STATE", "APPROVED", "MISSING", "URI", "ID"]


def _blocks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while block := list(islice(iterator, size)):
        yield block


def _row(listing: AssetListing, item: ListedAsset) -> list[str]:
    a = item.asset
    return [
        listing.source_names.get(a.collection_id, "-"),
        item.collection_name,
        a.state,
        yes_no(a.approved_for_broadcast),
        iso(a.missing_since) or "-",
        a.canonical_uri,
        str(a.id),
    ]


def next_page_command(listing: AssetListing) -> str:
    """The command that lists the next page: the same filters, after the last asset shown."""
    f = listing.filters
    words = ["retrovue asset list"]
    if listing.collection is not None:
        words += ["--collection", str(listing.collection.id)]
    if listing.source is not None:
        words += ["--source", str(listing.source.id)]
    if f.state is not None:
        words += ["--state", f.state]
    if f.approved is not None:
        words.append("--approved" if f.approved else "--not-approved")
    if f.missing is not None:
        words.append("--missing" if f.missing else "--present")
    if f.limit is not None:
        words += ["--limit", str(f.limit)]
    return " ".join([*words, "--after", str(listing.assets.next_after)])


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
