"""`retrovue collection list | show | update` (contracts §9–§11); `ingest` and `wipe` attach below."""

from __future__ import annotations

import os

import click

from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.queries import asset_counts, collection_times, last_run
from retrovue.cli.imperative.selectors import resolve_collection, resolve_source
from retrovue.cli.options import common_options
from retrovue.errors import DatabaseError, UsageError, ValidationError
from retrovue.execute.executor import Executor
from retrovue.importers.base import PathMappingSpec
from retrovue.model.actions import Plan
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.observe.db import load_snapshot
from retrovue.plan import imperative as build
from retrovue.render.imperative import count_noun, mapping_line


@click.group()
def collection() -> None:
    """Collections: the libraries/folders a source offers."""


def _identity(s, col) -> dict:
    """The keys `collection list` items and `collection show` share, in contract order."""
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


def _mappings_json(col: DbCollection) -> list[dict]:
    return [{"plex_path": m.plex_path, "local_path": m.local_path} for m in col.path_mappings]


def _mapping_lines(col: DbCollection) -> list[str]:
    if not col.path_mappings:
        return ["  Path Mappings: none"]
    return ["  Path Mappings:"] + [
        mapping_line(m.plex_path, m.local_path) for m in col.path_mappings
    ]


# -- list (CL) ----------------------------------------------------------------------------------


@collection.command("list")
@click.argument("positional", metavar="[SOURCE]", required=False)
@click.option(
    "--source",
    "source_opt",
    metavar="SOURCE",
    help="Only this source's collections (wins over the argument).",
)
@common_options
def list_collections(app: AppContext, positional, source_opt) -> None:
    """List collections (read-only)."""
    selector = source_opt if source_opt is not None else positional
    with c.read_snapshot(app.engine) as conn:
        snapshot = load_snapshot(conn)
        c.register_source_secrets(app, snapshot)
        chosen = resolve_source(snapshot, selector) if selector is not None else None
        times = collection_times(conn)
        counts = asset_counts(conn)
    pairs = [
        (s, col)
        for s in snapshot.sources
        if chosen is None or s.id == chosen.id
        for col in s.collections
    ]
    pairs.sort(key=lambda p: (p[0].name.casefold(), p[1].name.casefold(), str(p[1].id)))
    items = []
    for s, col in pairs:
        last, created, updated = times[col.id]
        total, missing = counts.get(col.id, (0, 0))
        items.append(
            {
                **_identity(s, col),
                "assets_count": total,
                "missing_count": missing,
                "last_ingest_time": c.iso(last),
                "created_at": c.iso(created),
                "updated_at": c.iso(updated),
                "path_mappings": _mappings_json(col),
            }
        )
    if app.json_output:
        doc = {"status": "ok", "total": len(items), "collections": items}
        if chosen is not None:
            doc["source"] = {
                "id": str(chosen.id),
                "name": chosen.name,
                "type": chosen.type,
            }
        app.emit_json(doc)
        return
    if not items:
        c.human(app, ["No collections found", "Total: 0 collections"])
        return
    lines = []
    for (s, col), i in zip(pairs, items, strict=False):
        lines += [
            f"  ID: {i['id']}",
            f"  Name: {i['name']}",
            f"  Source: {s.name} ({s.external_id})",
            f"  Type: {s.type}",
            f"  Sync Enabled: {c.yes_no(col.sync_enabled)}",
            f"  Ingestible: {c.yes_no(col.ingestible)}",
            *_mapping_lines(col),
            f"  Assets: {i['assets_count']:,}",
            f"  Last Ingest: {i['last_ingest_time'] or 'Never'}",
            f"  Created: {i['created_at']}",
            "",
        ]
    lines.append(f"Total: {count_noun(len(items), 'collection')}")
    c.human(app, lines)


# -- show (CS) ----------------------------------------------------------------------------------


def ingestible_reason(app: AppContext, s: DbSource, col: DbCollection) -> str | None:
    """CS B-6: the importer's local check, explained (never touches the upstream)."""
    if not app.registry.available(s.type):
        return "importer unavailable"
    importer = app.registry.create(s.type, dict(s.config))
    ok, reason = importer.check_ingestible(build.upstream_of(col), col.path_mappings)
    return None if ok else (reason or "not ingestible")


@collection.command("show")
@click.argument("selector", metavar="COLLECTION")
@common_options
def show(app: AppContext, selector: str) -> None:
    """Show one collection, and why it is not ingestible (read-only)."""
    with c.read_snapshot(app.engine) as conn:
        snapshot = load_snapshot(conn)
        c.register_source_secrets(app, snapshot)
        s, col = resolve_collection(snapshot, selector)
        last, created, updated = collection_times(conn)[col.id]
        total, missing = asset_counts(conn).get(col.id, (0, 0))
        run = last_run(conn, col.id)
    reason = ingestible_reason(app, s, col)
    run_doc = None
    if run is not None:
        run_doc = {
            "id": str(run.id),
            "trigger": run.trigger,
            "scope": run.scope,
            "status": run.status,
            "started_at": c.iso(run.started_at),
            "finished_at": c.iso(run.finished_at),
            "error": run.error,
        }
    doc = {
        "status": "ok",
        **_identity(s, col),
        "ingestible_reason": reason,
        "path_mappings": _mappings_json(col),
        "stats": {"assets_count": total, "missing_count": missing},
        "last_ingest_time": c.iso(last),
        "last_run": run_doc,
        "created_at": c.iso(created),
        "updated_at": c.iso(updated),
    }
    if app.json_output:
        app.emit_json(doc)
        return
    lines = [
        f"Collection: {col.name}",
        f"  ID: {col.id}",
        f"  External ID: {col.external_id}",
        f"  Source: {s.name} ({s.type}, {s.id})",
        f"  Sync Enabled: {c.yes_no(col.sync_enabled)}",
        f"  Ingestible: {c.yes_no(col.ingestible)}",
    ]
    if reason:
        lines.append(f"  Not ingestible because: {reason}")
    lines += _mapping_lines(col)
    lines.append(f"  Assets: {total:,} (missing: {missing:,})")
    lines.append(f"  Last Ingest: {doc['last_ingest_time'] or 'Never'}")
    if run_doc:
        lines.append(
            f"  Last Run: {run.status} {run.trigger} {run.scope} at {run_doc['started_at']}"
        )
    else:
        lines.append("  Last Run: none")
    lines += [f"  Created: {doc['created_at']}", f"  Updated: {doc['updated_at']}"]
    c.human(app, lines)


# -- update (CU) --------------------------------------------------------------------------------


@collection.command("update")
@click.argument("selector", metavar="COLLECTION")
@click.option(
    "--sync-enable",
    "--enable-sync",
    "--sync-enabled",
    "sync_enable",
    is_flag=True,
    help="Enable sync.",
)
@click.option(
    "--sync-disable",
    "--disable-sync",
    "--sync-disabled",
    "sync_disable",
    is_flag=True,
    help="Disable sync.",
)
@click.option(
    "--path-mapping",
    "--local-path",
    "path_mapping",
    metavar="LOCAL_PATH|DELETE",
    help="Set the local path of the collection's path mapping (DELETE clears it).",
)
@click.option(
    "--path-mapping-plex",
    metavar="PLEX_PATH",
    help="Which mapping row, when there are several.",
)
@c.dry_run_option
@common_options
def update(
    app: AppContext,
    selector,
    sync_enable,
    sync_disable,
    path_mapping,
    path_mapping_plex,
    dry_run,
) -> None:
    """Enable/disable sync and set path mappings (never ingests)."""
    if not (sync_enable or sync_disable or path_mapping is not None):  # CU B-3
        raise ValidationError(
            "Must specify at least one operation: --sync-enable, --sync-disable or --path-mapping."
        )
    if sync_enable and sync_disable:  # CU B-4
        raise ValidationError(
            "Cannot specify both --sync-enable and --sync-disable. Use one flag only."
        )
    if path_mapping_plex is not None and path_mapping is None:
        raise UsageError("--path-mapping-plex requires --path-mapping")
    snapshot = c.snapshot_of(app)
    c.register_source_secrets(app, snapshot)
    s, col = resolve_collection(snapshot, selector)
    mapping = (
        _chosen_mapping(col, path_mapping, path_mapping_plex) if path_mapping is not None else None
    )
    importer = (
        app.registry.create(s.type, dict(s.config)) if app.registry.available(s.type) else None
    )
    sync = True if sync_enable else False if sync_disable else None
    result = build.plan_collection_update(s, col, importer, sync=sync, mapping=mapping)
    plan = Plan(tuple(result.actions))
    doc = {
        "status": "ok",
        "id": str(col.id),
        "external_id": col.external_id,
        "name": col.name,
        "operation": result.operations,
        "sync_enabled": result.sync_enabled,
        "ingestible": result.ingestible,
        "ingestible_reason": result.ingestible_reason,
        "updated": bool(result.actions),
        "updated_at": None,
        "message": result.noop_message,
        "path_mapping": {
            "plex_path": mapping.plex_path,
            "local_path": mapping.local_path,
        }
        if mapping
        else None,
        "dry_run": dry_run,
    }
    if mapping is not None and mapping.local_path is None and result.sync_enabled and sync is None:
        app.err(
            f"Warning: collection '{col.name}' is still sync-enabled but no longer ingestible"
        )  # CU B-16
    if dry_run:
        doc["updated_at"] = c.iso(collection_times_of(app, col))
        c.emit_dry_run(app, plan, doc)
        return
    if result.actions:
        with c.write_lock(app, f"collection update {col.id}"):
            outcome = Executor(app.engine, app.registry, scrub=app.scrub).execute(plan)
        failed = [o for o in outcome.sources if not o.ok]
        if failed:
            raise DatabaseError(f"Transaction failed: {failed[0].error}")
    doc["updated_at"] = c.iso(collection_times_of(app, col))
    if app.json_output:
        app.emit_json(doc)
        return
    if not result.actions:
        c.human(app, [result.noop_message or f"Collection '{col.name}': nothing changed"])
        return
    c.human(
        app,
        [f"Successfully updated collection: {col.name}"]
        + [f"  {label}: {a} -> {b}" for label, a, b in result.changes],
    )


def collection_times_of(app: AppContext, col: DbCollection):
    with c.read_snapshot(app.engine) as conn:
        return collection_times(conn)[col.id][2]


def _chosen_mapping(col: DbCollection, value: str, plex_path: str | None) -> PathMappingSpec:
    """CU B-14 (an existing row, chosen by --path-mapping-plex when several) and B-15."""
    rows = col.path_mappings
    if not rows:
        raise ValidationError(
            f"Collection '{col.name}' does not have a path mapping. Path mappings are created during source discovery."
        )
    if plex_path is not None:
        row = next((m for m in rows if m.plex_path == plex_path), None)
        if row is None:
            raise ValidationError(
                f"Collection '{col.name}' has no path mapping with plex_path '{plex_path}'",
                hint="available plex_path values: " + ", ".join(m.plex_path for m in rows),
            )
    elif len(rows) > 1:
        raise ValidationError(
            f"Collection '{col.name}' has {len(rows)} path mappings; choose one with --path-mapping-plex",
            hint="available plex_path values: " + ", ".join(m.plex_path for m in rows),
        )
    else:
        row = rows[0]
    if value == "DELETE":
        return PathMappingSpec(row.plex_path, None)
    local = os.path.abspath(os.path.expanduser(value)) if value.strip() else ""
    if not local or not os.path.isdir(local) or not os.access(local, os.R_OK | os.X_OK):
        raise ValidationError(f"Local path '{value}' does not exist or is not accessible.")
    return PathMappingSpec(row.plex_path, local.rstrip(os.sep) or os.sep)


from retrovue.cli.imperative import collection_ingest, collection_wipe  # noqa: E402, F401
