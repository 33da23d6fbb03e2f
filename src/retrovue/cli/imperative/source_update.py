"""`retrovue source update` (contracts §5)."""

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
from retrovue.cli.imperative.selectors import resolve_source
from retrovue.cli.imperative.source import (
    executor_for,
    source,
)
from retrovue.cli.options import common_options
from retrovue.database.models import Source
from retrovue.errors import (
    ConcurrentModificationError,
    DatabaseError,
    ImporterUnavailableError,
    ValidationError,
)
from retrovue.model.actions import Plan
from retrovue.model.snapshots import DbSource
from retrovue.plan import imperative as build


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
        raise ValidationError("Invalid source name: must be 1 to 255 characters and not blank")
    params: dict = {}
    sensitive: set[str] = set()
    if given:
        if not app.registry.available(s.type):  # SU-030: an unavailable source accepts only --name
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
        and any(o.id != s.id and o.name.casefold() == new_name.casefold() for o in snapshot.sources)
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
        "config": c.redacted_config(dict(row.config or {}), c.sensitive_of(app.registry, s.type)),
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
            raise ConcurrentModificationError("Source was modified concurrently. Please retry.")
        result = executor_for(app).execute(plan)
    failed = [o for o in result.sources if not o.ok]
    if failed:
        raise DatabaseError(f"Transaction failed: {failed[0].error}")


# -- discover (SD) ------------------------------------------------------------------------------
