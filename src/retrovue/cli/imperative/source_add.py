"""`retrovue source add` (contracts §2)."""

from __future__ import annotations

import click

from retrovue.cli.context import AppContext
from retrovue.cli.imperative import common as c
from retrovue.cli.imperative.params import (
    TypeParamsCommand,
    given_params,
    registry_specs,
)
from retrovue.cli.imperative.source import (
    by_name,
    collection_brief,
    run_source_unit,
    source,
    unknown_type_error,
)
from retrovue.cli.options import common_options
from retrovue.errors import (
    ImporterError,
    UsageError,
)
from retrovue.model.actions import Plan
from retrovue.observe.db import load_snapshot
from retrovue.plan import imperative as build


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
        raise unknown_type_error(type_id, registry.types())
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
            upstream = importer.list_collections()  # SA D-3: exactly as `source discover`
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
    actions = build.plan_source_add(name, type_id, external_id, config, importer, upstream)
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
            {
                "id": None,
                "external_id": u.external_id,
                "name": u.name,
                "sync_enabled": False,
                "ingestible": importer.check_ingestible(u, build.discovered_mappings(importer, u))[
                    0
                ],
            }
            for u in upstream or ()
        ]
        c.emit_dry_run(app, plan, document)
        return
    run_source_unit(app, plan, f"source add --type {type_id} --name {name}")
    with c.read_snapshot(app.engine) as conn:
        stored = next(s for s in load_snapshot(conn).sources if s.external_id == external_id)
    document["id"] = str(stored.id)
    document["collections"] = [
        collection_brief(col) for col in sorted(stored.collections, key=by_name)
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
            for col in sorted(stored.collections, key=by_name)
        ]
    c.human(app, lines)
