"""`retrovue source list-types | add | list | show | update | discover` (contracts §1–§6).

`ingest` and `delete` live in their own modules; they are attached to this group at the end.
"""

from __future__ import annotations

import click
from sqlalchemy import select

from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.params import (
    TypeParamsCommand,
    given_params,
    registry_specs,
)
from retrovue.cli.imperative.queries import asset_counts, collection_times, source_times
from retrovue.cli.imperative.selectors import resolve_source
from retrovue.cli.options import common_options
from retrovue.database.models import Source
from retrovue.errors import (
    ConcurrentModificationError,
    DatabaseError,
    ImporterError,
    ImporterUnavailableError,
    UnknownSourceTypeError,
    UsageError,
    ValidationError,
)
from retrovue.execute.executor import Executor
from retrovue.importers.base import is_compliant
from retrovue.observe.db import DbSource, load_snapshot
from retrovue.plan import imperative as build
from retrovue.plan.actions import Plan
from retrovue.render.progress import progress_factory


@click.group()
def source() -> None:
    """Sources: configured importer instances (plex, filesystem, …)."""


def _executor(app: AppContext, trigger: str = "apply") -> Executor:
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
        result = _executor(app).execute(plan)
    failed = [s for s in result.sources if not s.ok]
    if failed:
        raise DatabaseError(f"Transaction failed: {failed[0].error}")


def _unknown_type(type_id: str, types: list[str]) -> UnknownSourceTypeError:
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
            {"type": name, "display_name": name, "importer_file": None, "available": False,
             "interface_compliant": False, "status": "error", "error": reason,
             "parameters": {"required": [], "optional": []}}
        )  # fmt: skip
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


@source.command("add", cls=TypeParamsCommand)
@click.option(
    "--type",
    "type_id",
    metavar="TYPE",
    help="Source type (see `retrovue source list-types`).",
)
@click.option("--name", help="Display name of the source.")
@click.option(
    "--discover",
    is_flag=True,
    help="Also discover the source's collections, in the same transaction.",
)
@c.dry_run_option
@common_options
def add(app: AppContext, type_id, name, discover, dry_run, **kwargs) -> None:
    """Create a source. Type-specific flags come from the importer (`--type X --help`)."""
    registry = app.registry
    specs = registry_specs(registry)
    if not type_id:
        raise UsageError(
            "--type is required",
            hint=f"Available types: {', '.join(registry.types()) or 'none'}",
        )
    if type_id not in registry.importers:
        raise _unknown_type(type_id, registry.types())
    importer_cls = registry.require_available(type_id, name or type_id)
    given = given_params(kwargs)
    own = {s.name for s in specs[type_id]}
    foreign = sorted(k for k in given if k not in own)
    messages = []
    if name is None:
        messages.append("--name is required")
    elif not name.strip():
        messages.append("Invalid source name: must not be blank")
    elif len(name) > 255:
        messages.append("Invalid source name: longer than 255 characters")
    try:
        config = build.validate_params(
            type_id,
            specs[type_id],
            {k: v for k, v in given.items() if k in own},
            foreign,
        )
    except build.ParamErrors as exc:
        messages += exc.messages
        config = {}
    if messages:
        c.fail(app, "VALIDATION_ERROR", messages)
    name = name.strip()
    sensitive = importer_cls.sensitive_params()
    # defaults the operator did not give are stored too, so the row says what runs
    for spec in specs[type_id]:
        if spec.name not in config and spec.default is not None:
            config[spec.name] = spec.default
    app.register_secrets(config, sensitive)
    importer = importer_cls(config)

    snapshot = c.snapshot_of(app)
    if any(s.name.casefold() == name.casefold() for s in snapshot.sources):
        app.err(
            f"Warning: a source named '{name}' already exists; name selectors will be ambiguous"
        )
    external_id = build.unique_external_id(type_id, snapshot)
    upstream = None
    if discover:
        try:
            upstream = (
                importer.list_collections()
            )  # SA D-3: exactly as `source discover`
        except NotImplementedError:
            app.err(
                "Warning: this importer cannot list collections; --discover was ignored"
            )  # SA B-7
        except ImporterError as exc:  # SA B-5a / D-6: nothing persists
            c.fail(
                app,
                exc.code,
                [f"Failed to discover collections from source '{name}'"],
                exit_code=3 if exc.exit_code == 3 else 1,
                hints=[app.scrub(exc.message)],
            )
    actions = build.plan_source_add(
        name, type_id, external_id, config, importer, upstream
    )
    plan = Plan(tuple(actions))
    document = {
        "status": "ok",
        "id": None,
        "external_id": external_id,
        "name": name,
        "type": type_id,
        "config": c.redacted_config(config, sensitive),
        "importer_name": importer_cls.display_name,
        "collections_discovered": len(upstream or ()),
        "collections": [],
        "dry_run": False,
    }
    if dry_run:
        document["collections"] = [
            {"id": None, "external_id": u.external_id, "name": u.name, "sync_enabled": False,
             "ingestible": importer.check_ingestible(u, build.discovered_mappings(importer, u))[0]}
            for u in upstream or ()
        ]  # fmt: skip
        c.emit_dry_run(app, plan, document)
        return
    run_source_unit(app, plan, f"source add --type {type_id} --name {name}")
    with c.read_snapshot(app.engine) as conn:
        stored = next(
            s for s in load_snapshot(conn).sources if s.external_id == external_id
        )
    document["id"] = str(stored.id)
    document["collections"] = [
        _collection_brief(col) for col in sorted(stored.collections, key=_by_name)
    ]
    if app.json_output:
        app.emit_json(document)
        return
    lines = [
        f"Successfully created {type_id} source: {name}",
        f"  Name: {name}",
        f"  ID: {stored.id}",
        f"  External ID: {external_id}",
        f"  Type: {type_id}",
    ]
    if discover and upstream is not None:
        lines.append(f"  Collections discovered: {len(stored.collections):,}")
        lines += [
            f"    \u2022 {col.name} (ID: {col.external_id}) - Disabled by default"
            for col in sorted(stored.collections, key=_by_name)
        ]
    c.human(app, lines)


def _by_name(col) -> tuple:
    return (col.name.casefold(), str(col.id))


def _collection_brief(col) -> dict:
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
            raise _unknown_type(type_id, sorted(known))
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
        c.human(
            app, [f"No {what}sources configured", f"Total: 0 {what}sources configured"]
        )
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
    cols = sorted(s.collections, key=_by_name)
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
                **_collection_brief(col),
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


@source.command("update", cls=TypeParamsCommand)
@click.argument("selector", metavar="SOURCE")
@click.option("--name", "new_name", help="New display name.")
@click.option("--id", "imm_id", hidden=True)
@click.option("--external-id", "imm_external_id", hidden=True)
@click.option("--type", "imm_type", hidden=True)
@click.option("--created-at", "imm_created_at", hidden=True)
@c.dry_run_option
@common_options
def update(
    app: AppContext,
    selector,
    new_name,
    imm_id,
    imm_external_id,
    imm_type,
    imm_created_at,
    dry_run,
    **kwargs,
):
    """Change a source's name or parameters (partial update)."""
    for field_name, value in (
        ("id", imm_id),
        ("external_id", imm_external_id),
        ("type", imm_type),
        ("created_at", imm_created_at),
    ):
        if value is not None:  # SU-021
            raise ValidationError(f"Cannot update immutable field '{field_name}'")
    given = given_params(kwargs)
    snapshot = c.snapshot_of(app)
    c.register_source_secrets(app, snapshot)
    s = resolve_source(snapshot, selector)
    if new_name is None and not given:  # SU-020
        raise ValidationError(
            "No changes specified: give --name or a parameter flag",
            hint="see `retrovue source update --help`",
        )
    if new_name is not None and (not new_name.strip() or len(new_name) > 255):
        raise ValidationError(
            "Invalid source name: must be 1 to 255 characters and not blank"
        )
    params: dict = {}
    sensitive: set[str] = set()
    if given:
        if not app.registry.available(
            s.type
        ):  # SU-030: an unavailable source accepts only --name
            raise ImporterUnavailableError(
                f"Source type '{s.type}' is not available",
                hint=f"source '{s.name}' has type '{s.type}', which no loaded importer provides; only --name can change",
            )
        specs = registry_specs(app.registry)[s.type]
        own = {p.name for p in specs}
        foreign = sorted(k for k in given if k not in own)
        try:
            params = build.validate_params(
                s.type,
                specs,
                {k: v for k, v in given.items() if k in own},
                foreign,
                partial=True,
            )
        except build.ParamErrors as exc:
            c.fail(app, "VALIDATION_ERROR", exc.messages)
        sensitive = c.sensitive_of(app.registry, s.type)
        app.register_secrets(params, sensitive)
    new_name = new_name.strip() if new_name is not None else None
    action, names = build.plan_source_update(s, new_name, params, sensitive)
    if (
        new_name is not None
        and new_name != s.name
        and any(
            o.id != s.id and o.name.casefold() == new_name.casefold()
            for o in snapshot.sources
        )
    ):
        app.err(
            f"Warning: another source is named '{new_name}'; name selectors will be ambiguous"
        )  # SU N-1
    if "base_path" in names and s.collections:
        app.err(
            "Warning: existing collections now refer to subdirectories of the new base_path; "
            "the next ingest marks assets that are not found there as missing"
        )  # SU N-2
    proposed = dict(s.config)
    proposed.update(params)
    final_name = new_name if new_name is not None else s.name
    plan = Plan((action,) if action else ())
    if dry_run:
        doc = {
            "status": "ok",
            "dry_run": True,
            "id": str(s.id),
            "external_id": s.external_id,
            "current_name": s.name,
            "proposed_name": final_name,
            "type": s.type,
            "current_config": c.redacted_config(
                s.config, sensitive or c.sensitive_of(app.registry, s.type)
            ),
            "proposed_config": c.redacted_config(
                proposed, sensitive or c.sensitive_of(app.registry, s.type)
            ),
            "updated_parameters": names,
        }
        c.emit_dry_run(app, plan, doc)
        return
    if action is not None:
        with c.read_snapshot(app.engine) as conn:
            before = conn.execute(
                select(Source.updated_at).where(Source.id == s.id)
            ).scalar_one_or_none()
        _run_update(app, plan, s, before)
    with c.read_snapshot(app.engine) as conn:
        row = conn.execute(select(Source.__table__).where(Source.id == s.id)).one()
    doc = {
        "status": "ok",
        "id": str(s.id),
        "external_id": s.external_id,
        "name": row.name,
        "type": s.type,
        "config": c.redacted_config(
            dict(row.config or {}), c.sensitive_of(app.registry, s.type)
        ),
        "updated_at": c.iso(row.updated_at),
        "updated_parameters": names,
        "dry_run": False,
    }
    if app.json_output:
        app.emit_json(doc)
        return
    if not names:
        c.human(app, [f"No changes for source: {row.name}; nothing changed"])
        return
    c.human(
        app,
        [f"Successfully updated source: {row.name}", "Updated Parameters:"]
        + [f"  - {n}" for n in names],
    )


def _run_update(app: AppContext, plan: Plan, s: DbSource, read_updated_at) -> None:
    """SU-050: optimistic check on updated_at, inside the lock, just before the unit runs."""
    with c.write_lock(app, f"source update {s.id}"):
        with c.read_snapshot(app.engine) as conn:
            now_updated = conn.execute(
                select(Source.updated_at).where(Source.id == s.id)
            ).scalar_one_or_none()
        if now_updated is None or now_updated != read_updated_at:
            raise ConcurrentModificationError(
                "Source was modified concurrently. Please retry."
            )
        result = _executor(app).execute(plan)
    failed = [o for o in result.sources if not o.ok]
    if failed:
        raise DatabaseError(f"Transaction failed: {failed[0].error}")


# -- discover (SD) ------------------------------------------------------------------------------


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
    lines = [
        f"Successfully added {added:,} collection{'s' if added != 1 else ''} from '{s.name}':"
    ]
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


def _discover_doc(
    source_doc: dict, result, stored: DbSource | None, type_id: str
) -> dict:
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
        "collections_unchanged": sum(
            d.status == "unchanged" for d in result.collections
        ),
        "collections": items,
        "collections_gone": [
            {"id": str(g.id), "external_id": g.external_id, "name": g.name}
            for g in result.gone
        ],
        "dry_run": stored is None,
    }


def _planned_ingestible(result, external_id: str) -> bool:
    from retrovue.plan.actions import SetIngestible

    return any(
        isinstance(a, SetIngestible)
        and a.collection.external_id == external_id
        and a.after
        for a in result.actions
    )


# The remaining verbs live in their own modules; importing them attaches them to `source`.
from retrovue.cli.imperative import source_delete, source_ingest  # noqa: F401
