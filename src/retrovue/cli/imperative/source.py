"""`retrovue source list-types | list | show` (contracts §1, §3, §4) and the `source` group.

The mutating verbs live in their own modules (source_add, source_update, source_discover,
source_ingest, source_delete); they are attached to this group at the end.
"""

from __future__ import annotations

import click

from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.params import (
    registry_specs,
)
from retrovue.cli.imperative.queries import asset_counts, collection_times, source_times
from retrovue.cli.imperative.selectors import resolve_source
from retrovue.cli.options import common_options
from retrovue.errors import (
    DatabaseError,
    UnknownSourceTypeError,
)
from retrovue.execute.executor import Executor
from retrovue.importers.base import is_compliant
from retrovue.model.actions import Plan
from retrovue.observe.db import load_snapshot
from retrovue.render.progress import progress_factory


@click.group()
def source() -> None:
    """Sources: configured importer instances (plex, filesystem, …)."""


def executor_for(app: AppContext, trigger: str = "apply") -> Executor:
    return Executor(
        app.engine,
        app.registry,
        trigger=trigger,
        scrub=app.scrub,
        progress=progress_factory(),
    )


def run_source_unit(app: AppContext, plan: Plan, command: str) -> None:
    """Run a plan of source-level actions as one unit; a failed unit is exit 1 (UOW-001)."""
    with c.write_lock(app, command):
        result = executor_for(app).execute(plan)
    failed = [s for s in result.sources if not s.ok]
    if failed:
        raise DatabaseError(f"Transaction failed: {failed[0].error}")


def unknown_type_error(type_id: str, types: list[str]) -> UnknownSourceTypeError:
    return UnknownSourceTypeError(
        f"Unknown source type '{type_id}'. Available types: {', '.join(types)}"
    )


# -- list-types (SLT) -----------------------------------------------------------------------------


@source.command("list-types")
@common_options
def list_types(app: AppContext) -> None:
    """List the registered source types and their parameters."""
    registry = app.registry
    specs = registry_specs(registry)
    items = []
    for type_id, entry in sorted(registry.importers.items()):
        compliant = is_compliant(entry.cls)
        params = specs.get(type_id, ())
        items.append(
            {
                "type": type_id,
                "display_name": getattr(entry.cls, "display_name", type_id),
                "importer_file": f"{entry.cls.__module__}.{entry.cls.__qualname__}",
                "available": compliant,
                "interface_compliant": compliant,
                "status": "ok" if compliant else "error",
                "error": None
                if compliant
                else "importer does not implement the importer interface",
                "parameters": {
                    kind: [
                        {
                            "name": p.name,
                            "flag": p.flag,
                            "description": p.help,
                            "sensitive": p.sensitive,
                        }
                        for p in params
                        if p.required == (kind == "required")
                    ]
                    for kind in ("required", "optional")
                },
            }
        )
    for name, reason in sorted(registry.broken.items()):  # SLT B-4: listed, not fatal
        items.append(
            {
                "type": name,
                "display_name": name,
                "importer_file": None,
                "available": False,
                "interface_compliant": False,
                "status": "error",
                "error": reason,
                "parameters": {"required": [], "optional": []},
            }
        )
    items.sort(key=lambda i: i["type"])
    if app.json_output:
        app.emit_json({"status": "ok", "source_types": items, "total": len(items)})
        return
    if not items:
        c.human(app, ["No source types available"])
        return
    lines = ["Available source types:"]
    for i in items:
        suffix = f" (unavailable: {i['error']})" if i["status"] != "ok" else ""
        lines.append(f"  {i['type']} - {i['display_name']}{suffix}")
    lines.append(f"Total: {c_count(len(items), 'source type')} available")
    c.human(app, lines)


def c_count(n: int, noun: str) -> str:
    from retrovue.render.imperative import count_noun

    return count_noun(n, noun)


# -- add (SA) ------------------------------------------------------------------------------------


def by_name(col) -> tuple:
    return (col.name.casefold(), str(col.id))


def collection_brief(col) -> dict:
    return {
        "id": str(col.id),
        "external_id": col.external_id,
        "name": col.name,
        "sync_enabled": col.sync_enabled,
        "ingestible": col.ingestible,
    }


# -- list (SL) ---------------------------------------------------------------------------------


@source.command("list")
@click.option("--type", "type_id", metavar="TYPE", help="Only sources of this type.")
@common_options
def list_sources(app: AppContext, type_id) -> None:
    """List sources (read-only)."""
    with c.read_snapshot(app.engine) as conn:
        snapshot = load_snapshot(conn)
        times = source_times(conn)
    c.register_source_secrets(app, snapshot)
    registry = app.registry
    if type_id is not None:
        known = set(registry.types()) | {s.type for s in snapshot.sources}
        if type_id not in known:  # SL B-3
            raise unknown_type_error(type_id, sorted(known))
    sources = [s for s in snapshot.sources if type_id is None or s.type == type_id]
    sources.sort(key=lambda s: (s.name.casefold(), str(s.id)))
    items = []
    for s in sources:
        created, updated = times[s.id]
        items.append(
            {
                "id": str(s.id),
                "external_id": s.external_id,
                "name": s.name,
                "type": s.type,
                "available": registry.available(s.type),
                "enabled_collections": sum(col.sync_enabled for col in s.collections),
                "ingestible_collections": sum(col.ingestible for col in s.collections),
                "created_at": c.iso(created),
                "updated_at": c.iso(updated),
            }
        )
    if app.json_output:
        app.emit_json({"status": "ok", "total": len(items), "sources": items})
        return
    what = f"{type_id} " if type_id else ""
    if not items:
        c.human(app, [f"No {what}sources configured", f"Total: 0 {what}sources configured"])
        return
    lines = [f"{type_id.capitalize()} sources:" if type_id else "Configured sources:"]
    for i in items:
        unavailable = "" if i["available"] else " (unavailable: importer not loaded)"
        lines += [
            f"  ID: {i['id']}",
            f"  Name: {i['name']}",
            f"  Type: {i['type']}{unavailable}",
            f"  Enabled Collections: {i['enabled_collections']:,}",
            f"  Ingestible Collections: {i['ingestible_collections']:,}",
            f"  Created: {i['created_at']}",
            f"  Updated: {i['updated_at']}",
            "",
        ]
    noun = "source" if len(items) == 1 else "sources"
    lines.append(f"Total: {len(items):,} {what}{noun} configured")
    c.human(app, lines)


# -- show (SS) ---------------------------------------------------------------------------------


@source.command("show")
@click.argument("selector", metavar="SOURCE")
@common_options
def show(app: AppContext, selector: str) -> None:
    """Show one source with its collections (read-only)."""
    with c.read_snapshot(app.engine) as conn:
        snapshot = load_snapshot(conn)
        c.register_source_secrets(app, snapshot)
        s = resolve_source(snapshot, selector)
        times = source_times(conn)[s.id]
        ctimes = collection_times(conn)
        counts = asset_counts(conn)
    registry = app.registry
    entry = registry.importers.get(s.type)
    sensitive = c.sensitive_of(registry, s.type)
    cols = sorted(s.collections, key=by_name)
    doc = {
        "status": "ok",
        "id": str(s.id),
        "external_id": s.external_id,
        "name": s.name,
        "type": s.type,
        "available": registry.available(s.type),
        "importer_name": getattr(entry.cls, "display_name", None) if entry else None,
        "config": c.redacted_config(s.config, sensitive),
        "enabled_collections": sum(col.sync_enabled for col in cols),
        "ingestible_collections": sum(col.ingestible for col in cols),
        "collections": [
            {
                **collection_brief(col),
                "assets_count": counts.get(col.id, (0, 0))[0],
                "last_ingest_time": c.iso(ctimes[col.id][0]),
            }
            for col in cols
        ],
        "created_at": c.iso(times[0]),
        "updated_at": c.iso(times[1]),
    }
    if app.json_output:
        app.emit_json(doc)
        return
    lines = [
        f"Source: {s.name}",
        f"  ID: {s.id}",
        f"  External ID: {s.external_id}",
        f"  Type: {s.type}",
        f"  Available: {c.yes_no(doc['available'])}",
        "  Config:",
    ]
    lines += [f"    {k}: {_show_value(v)}" for k, v in doc["config"].items()]
    lines += [
        f"  Enabled Collections: {doc['enabled_collections']:,}",
        f"  Ingestible Collections: {doc['ingestible_collections']:,}",
    ]
    if not cols:
        lines.append("  Collections: none")
    else:
        lines.append("  Collections:")
        lines += [
            f"    \u2022 {i['name']} (ID: {i['external_id']}) sync={c.yes_no(i['sync_enabled'])} "
            f"ingestible={c.yes_no(i['ingestible'])} assets={i['assets_count']:,}"
            for i in doc["collections"]
        ]
    lines += [f"  Created: {doc['created_at']}", f"  Updated: {doc['updated_at']}"]
    c.human(app, lines)


def _show_value(v) -> str:
    if isinstance(v, bool):
        return c.yes_no(v)
    if isinstance(v, list):
        return ",".join(str(i) for i in v)
    return str(v)


# -- update (SU) --------------------------------------------------------------------------------


# The other verbs live in their own modules; importing them attaches them to `source`.
from retrovue.cli.imperative import (  # noqa: E402, F401
    source_add,
    source_delete,
    source_discover,
    source_ingest,
    source_update,
)
