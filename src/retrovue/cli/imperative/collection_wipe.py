"""`retrovue collection wipe` (contracts §13): delete a collection's assets, keep everything else."""

from __future__ import annotations

import click

from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.collection import collection
from retrovue.cli.imperative.selectors import resolve_collection
from retrovue.cli.options import common_options
from retrovue.errors import DatabaseError, ProductionSafetyError
from retrovue.execute.delete import safety_reason
from retrovue.execute.executor import Executor
from retrovue.model.actions import Plan
from retrovue.observe.db import load_snapshot
from retrovue.plan import imperative as build


@collection.command("wipe")
@click.argument("selector", metavar="COLLECTION")
@c.confirmation_options
@c.dry_run_option
@common_options
def wipe(app: AppContext, selector: str, force: bool, confirmed: bool, dry_run: bool) -> None:
    """Delete every asset of a collection; its settings and path mappings are kept."""
    with c.read_snapshot(app.engine) as conn:
        snapshot = load_snapshot(conn)
        c.register_source_secrets(app, snapshot)
        s, col = resolve_collection(snapshot, selector)  # CW N-1: whatever the importer's state
        assets, aired = build.wipe_counts(conn, col)
    override = app.test_db and force  # CW N-4 / PS-030
    doc = {
        "status": "ok",
        "collection_id": str(col.id),
        "collection_name": col.name,
        "assets_deleted": assets,
        "path_mappings_kept": len(col.path_mappings),
        "dry_run": dry_run,
    }
    plan = Plan((build.wipe_action(s, col, assets, override and aired > 0),))
    if aired and not override and not dry_run:
        raise ProductionSafetyError(
            f"Collection '{col.name}' was not wiped: {safety_reason(aired)}",
            context={"collection_id": str(col.id), "aired_assets": aired},
        )
    if dry_run:  # CW N-5
        doc["confirmation_required"] = not (force or confirmed)
        doc["impact_summary"] = {"assets": assets}
        lines = (
            [f"Warning: collection '{col.name}' would be kept: {safety_reason(aired)}"]
            if aired and not override
            else []
        )
        c.emit_dry_run(app, plan, doc, lines)
        return
    c.confirm(
        app,
        [
            f"Are you sure you want to wipe collection '{col.name}' (ID: {col.id})?",
            "This will delete:",
            f"  - {assets:,} assets",
            "Path mappings and collection settings are kept.",
        ],
        force=force,
        confirmed=confirmed,
        cancel_line="Operation cancelled.",
    )
    with c.write_lock(app, f"collection wipe {col.id}"):
        result = Executor(app.engine, app.registry, scrub=app.scrub).execute(plan)
    failed = [o for o in result.sources if not o.ok]
    if failed:
        if failed[0].error_code == "PRODUCTION_SAFETY_FAILED":
            raise ProductionSafetyError(f"Collection '{col.name}' was not wiped: {failed[0].error}")
        raise DatabaseError(f"Transaction failed: {failed[0].error}")
    if app.json_output:
        app.emit_json(doc)
    else:
        c.human(
            app,
            [
                f"Successfully wiped collection: {col.name}",
                f"  Assets deleted: {assets:,}",
            ],
        )
