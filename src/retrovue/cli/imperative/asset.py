"""`retrovue asset list | show` (contracts §14–§15): read-only views of ingested assets."""

from __future__ import annotations

import json

import click
from sqlalchemy import func, select

from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.selectors import resolve_asset, resolve_collection
from retrovue.cli.options import common_options
from retrovue.database.models import Asset, Collection, Source
from retrovue.errors import UsageError
from retrovue.observe.db import load_snapshot

STATES = ("new", "enriching", "ready", "retired")
_LIST_FIELDS = (
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


@click.group()
def asset() -> None:
    """Assets: the media files ingested from collections (read-only)."""


@asset.command("list")
@click.option(
    "--collection",
    "collection_sel",
    metavar="COLLECTION",
    help="Only this collection's assets.",
)
@click.option("--state", type=click.Choice(STATES), help="Only assets in this state.")
@click.option("--approved/--not-approved", default=None, help="Only (not) approved assets.")
@click.option("--missing/--present", default=None, help="Only missing (or present) assets.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N assets.")
@common_options
def list_assets(app: AppContext, collection_sel, state, approved, missing, limit) -> None:
    """List assets (AND of the filters), ordered by source, collection, canonical_uri."""
    with c.read_snapshot(app.engine) as conn:
        chosen = None
        if collection_sel is not None:
            _s, chosen = resolve_collection(load_snapshot(conn), collection_sel)
        query = (
            select(Asset.__table__, Collection.name.label("collection_name"))
            .join(Collection, Collection.id == Asset.collection_id)
            .join(Source, Source.id == Collection.source_id)
        )
        if chosen is not None:
            query = query.where(Asset.collection_id == chosen.id)
        if state is not None:
            query = query.where(Asset.state == state)
        if approved is not None:
            query = query.where(Asset.approved_for_broadcast == approved)
        if missing is not None:
            query = query.where(
                Asset.missing_since.is_not(None) if missing else Asset.missing_since.is_(None)
            )
        query = query.order_by(
            func.lower(Source.name),
            func.lower(Collection.name),
            Collection.id,
            Asset.canonical_uri,
            Asset.id,
        )
        if limit is not None:
            query = query.limit(limit + 1)  # one more tells whether the list was cut
        rows = conn.execute(query).all()
    truncated = limit is not None and len(rows) > limit
    rows = rows[:limit] if limit is not None else rows
    items = [
        {
            "id": str(r.id),
            "collection": {"id": str(r.collection_id), "name": r.collection_name},
            **{f: getattr(r, f) for f in _LIST_FIELDS},
            "state": r.state,
            "approved_for_broadcast": r.approved_for_broadcast,
            "missing_since": c.iso(r.missing_since),
            "discovered_at": c.iso(r.discovered_at),
        }
        for r in rows
    ]
    if app.json_output:
        app.emit_json(
            {
                "status": "ok",
                "total": len(items),
                "truncated": truncated,
                "assets": items,
                "filters": {
                    "collection": str(chosen.id) if chosen else None,
                    "state": state,
                    "approved": approved,
                    "missing": missing,
                    "limit": limit,
                },
            }
        )
        return
    if not items:
        c.human(app, ["No assets found", "Total: 0 assets"])
        return
    lines = [
        f"{i['id']}  {i['state']}  approved={c.yes_no(i['approved_for_broadcast'])}  "
        f"missing={i['missing_since'] or '-'}  {i['canonical_uri']}"
        for i in items
    ]
    lines.append(f"Total: {len(items):,} asset{'s' if len(items) != 1 else ''}")
    if truncated:
        lines.append(f"(limited to {limit}; more assets match)")
    c.human(app, lines)


@asset.command("show")
@click.argument("selector", metavar="ASSET")
@common_options
def show(app: AppContext, selector: str) -> None:
    """Show one asset (by id, source_uri or canonical_uri)."""
    if not selector.strip():
        raise UsageError("Invalid asset ID format. Expected UUID, source URI, or canonical URI.")
    with c.read_snapshot(app.engine) as conn:
        r = resolve_asset(conn, selector)
        owner = conn.execute(
            select(
                Collection.id,
                Collection.name,
                Source.id.label("sid"),
                Source.name.label("sname"),
                Source.type,
            )
            .join(Source, Source.id == Collection.source_id)
            .where(Collection.id == r.collection_id)
        ).one()
    doc = {
        "status": "ok",
        "id": str(r.id),
        "collection": {
            "id": str(owner.id),
            "name": owner.name,
            "source": {"id": str(owner.sid), "name": owner.sname, "type": owner.type},
        },
        **{f: getattr(r, f) for f in _LIST_FIELDS},
        "change_token": r.change_token,
        "state": r.state,
        "approved_for_broadcast": r.approved_for_broadcast,
        "missing_since": c.iso(r.missing_since),
        "metadata": r.metadata,
        "discovered_at": c.iso(r.discovered_at),
        "created_at": c.iso(r.created_at),
        "updated_at": c.iso(r.updated_at),
    }
    if app.json_output:
        app.emit_json(doc)
        return
    lines = [f"Asset: {r.id}"]
    for key, value in doc.items():
        if key in ("status", "id"):
            continue
        label = key.replace("_", " ").title().replace("Uri", "URI").replace("Ms", "(ms)")
        if key == "collection":
            value = f"{owner.name} ({owner.id}); source {owner.sname} ({owner.type}, {owner.sid})"
        elif key == "metadata":
            text = json.dumps(value, indent=2, sort_keys=True) if value is not None else "null"
            lines.append(f"  {label}:")
            lines += ["    " + line for line in text.splitlines()]
            continue
        elif isinstance(value, bool):
            value = c.yes_no(value)
        elif value is None:
            value = "-"
        lines.append(f"  {label}: {value}")
    c.human(app, lines)
