"""`retrovue source discover` (contracts §6)."""

from __future__ import annotations

import click

from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.selectors import resolve_source
from retrovue.cli.imperative.source import (
    run_source_unit,
    source,
)
from retrovue.cli.options import common_options
from retrovue.model.actions import Plan
from retrovue.model.snapshots import DbSource
from retrovue.observe.db import load_snapshot
from retrovue.plan import imperative as build


@source.command("discover")
@click.argument("selector", metavar="SOURCE")
@c.dry_run_option
@common_options
def discover(app: AppContext, selector: str, dry_run: bool) -> None:
    """Find the collections a source offers and store the new ones (disabled)."""
    snapshot = c.snapshot_of(app)
    c.register_source_secrets(app, snapshot)
    s = resolve_source(snapshot, selector)
    importer = c.importer_for(app, s)
    try:
        upstream = importer.list_collections()
    except NotImplementedError:  # SD B-7
        c.human(
            app,
            [f"Source '{s.name}' ({s.type}) cannot list collections; nothing changed"],
        )
        return
    result = build.plan_discover(s, upstream, importer)
    plan = Plan(tuple(result.actions))
    source_doc = {
        "id": str(s.id),
        "name": s.name,
        "type": s.type,
        "external_id": s.external_id,
    }
    if dry_run:
        c.emit_dry_run(app, plan, _discover_doc(source_doc, result, None, s.type))
        return
    if result.actions:
        run_source_unit(app, plan, f"source discover {s.id}")
    with c.read_snapshot(app.engine) as conn:
        stored = next(x for x in load_snapshot(conn).sources if x.id == s.id)
    doc = _discover_doc(source_doc, result, stored, s.type)
    if app.json_output:
        app.emit_json(doc)
        return
    if not upstream:
        c.human(app, [f"No collections found for source '{s.name}'"])
        return
    added = doc["collections_added"]
    lines = [f"Successfully added {added:,} collection{'s' if added != 1 else ''} from '{s.name}':"]
    for item in doc["collections"]:
        note = {
            "added": "Disabled by default",
            "unchanged": "Already exists, skipped",
            "updated": f"Renamed from '{item['previous_name']}'",
        }[item["status"]]
        lines.append(f"  \u2022 {item['name']} (ID: {item['external_id']}) - {note}")
    lines += [
        f"  \u2022 {g['name']} (ID: {g['external_id']}) - No longer offered upstream, kept"
        for g in doc["collections_gone"]
    ]
    if added:
        lines.append(
            "Use 'retrovue collection update <name> --sync-enable' to enable collections for sync"
        )
    c.human(app, lines)


def _discover_doc(source_doc: dict, result, stored: DbSource | None, type_id: str) -> dict:
    items = []
    for d in result.collections:
        row = stored.collection(d.upstream.external_id) if stored else d.stored
        items.append(
            {
                "id": str(row.id) if row else None,
                "external_id": d.upstream.external_id,
                "name": d.upstream.name,
                "sync_enabled": row.sync_enabled if row else False,
                "ingestible": row.ingestible
                if row
                else _planned_ingestible(result, d.upstream.external_id),
                "source_type": type_id,
                "status": d.status,
                "previous_name": d.previous_name,
            }
        )
    return {
        "status": "ok",
        "source": source_doc,
        "collections_added": sum(d.status == "added" for d in result.collections),
        "collections_updated": sum(d.status == "updated" for d in result.collections),
        "collections_unchanged": sum(d.status == "unchanged" for d in result.collections),
        "collections": items,
        "collections_gone": [
            {"id": str(g.id), "external_id": g.external_id, "name": g.name} for g in result.gone
        ],
        "dry_run": stored is None,
    }


def _planned_ingestible(result, external_id: str) -> bool:
    from retrovue.model.actions import SetIngestible

    return any(
        isinstance(a, SetIngestible) and a.collection.external_id == external_id and a.after
        for a in result.actions
    )
