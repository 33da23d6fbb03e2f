"""`source add`: one new source and, with discovery, its collections, as one unit.

Every problem with the name and the parameters is reported in one pass.  A failed discovery
stores nothing, not even the source row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from retrovue.app.context import Context
from retrovue.app.source_params import checked_params, registry_specs, unknown_type_error
from retrovue.app.source_read import by_name
from retrovue.errors import ImporterError, UsageError
from retrovue.importers.base import BaseImporter
from retrovue.model.actions import Plan
from retrovue.model.snapshots import DbCollection
from retrovue.model.upstream import UpstreamCollection
from retrovue.plan import imperative as build

MAX_NAME = 255


@dataclass(frozen=True)
class AddRequest:
    type_id: str | None
    name: str | None
    params: Mapping[str, Any] = field(default_factory=dict)  # only what the operator gave
    discover: bool = False
    dry_run: bool = False


@dataclass(frozen=True)
class PlannedCollection:
    """A discovered collection a dry run would store; shaped like the stored one."""

    external_id: str
    name: str
    ingestible: bool
    id: uuid.UUID | None = None
    sync_enabled: bool = False


@dataclass(frozen=True)
class SourceAdded:
    name: str
    type_id: str
    external_id: str
    config: dict
    sensitive: frozenset[str]
    importer_name: str
    #: what the upstream offered; None when not asked to discover or the importer cannot list
    upstream: tuple[UpstreamCollection, ...] | None
    collections: tuple[DbCollection | PlannedCollection, ...]
    plan: Plan
    id: uuid.UUID | None = None  # None on a dry run
    dry_run: bool = False


def add_source(
    ctx: Context, request: AddRequest, warn: Callable[[str], None] = lambda _text: None
) -> SourceAdded:
    """``warn`` hears what the operator should know even though the command goes on."""
    type_id, name = request.type_id, request.name
    importer_cls, config = _checked(ctx, request)
    name = name.strip()
    sensitive = frozenset(importer_cls.sensitive_params())
    ctx.register_secrets(config, sensitive)
    importer = importer_cls(config)
    snapshot = ctx.snapshot()
    if any(s.name.casefold() == name.casefold() for s in snapshot.sources):
        warn(f"a source named '{name}' already exists; name selectors will be ambiguous")
    external_id = build.unique_external_id(type_id, name, snapshot)
    upstream = _discover(importer, name, warn) if request.discover else None
    plan = Plan(
        tuple(build.plan_source_add(name, type_id, external_id, config, importer, upstream))
    )
    if request.dry_run:
        source_id, collections = None, tuple(_planned(importer, u) for u in upstream or ())
    else:
        ctx.commit_source_changes(plan, f"source add --type {type_id} --name {name}")
        stored = next(s for s in ctx.snapshot().sources if s.external_id == external_id)
        source_id, collections = stored.id, tuple(sorted(stored.collections, key=by_name))
    return SourceAdded(
        name,
        type_id,
        external_id,
        config,
        sensitive,
        importer_cls.display_name,
        upstream,
        collections,
        plan,
        source_id,
        request.dry_run,
    )


def _checked(ctx: Context, request: AddRequest) -> tuple[type[BaseImporter], dict]:
    """The importer class and the full config (defaults included, so the row says what runs)."""
    registry, type_id, name = ctx.registry, request.type_id, request.name
    if not type_id:
        raise UsageError(
            "--type is required",
            hint=f"Available types: {', '.join(registry.types()) or 'none'}",
        )
    if type_id not in registry.importers:
        raise unknown_type_error(type_id, registry.types())
    importer_cls = registry.require_available(type_id, name or type_id)
    specs = registry_specs(registry)[type_id]
    messages = _name_problems(name)
    try:
        config = checked_params(type_id, specs, request.params)
    except build.ParamErrors as exc:
        messages += exc.messages
    if messages:
        raise build.ParamErrors(messages)
    for spec in specs:
        if spec.name not in config and spec.default is not None:
            config[spec.name] = spec.default
    return importer_cls, config


def _name_problems(name: str | None) -> list[str]:
    if name is None:
        return ["--name is required"]
    if not name.strip():
        return ["Invalid source name: must not be blank"]
    if len(name) > MAX_NAME:
        return [f"Invalid source name: longer than {MAX_NAME} characters"]
    return []


def _discover(
    importer: BaseImporter, name: str, warn: Callable[[str], None]
) -> tuple[UpstreamCollection, ...] | None:
    """Exactly what `source discover` would find."""
    try:
        return tuple(importer.list_collections())
    except NotImplementedError:
        warn("this importer cannot list collections; --discover was ignored")
        return None
    except ImporterError as exc:
        failure = exc.restated(
            f"Failed to discover collections from source '{name}'", hint=exc.message
        )
        # exit 2 means "changes", so whatever is not unreachable is a plain failure
        failure.exit_code = 3 if exc.exit_code == 3 else 1
        raise failure from exc


def _planned(importer: BaseImporter, upstream: UpstreamCollection) -> PlannedCollection:
    mappings = build.discovered_mappings(importer, upstream)
    ingestible = importer.check_ingestible(upstream, mappings)[0]
    return PlannedCollection(upstream.external_id, upstream.name, ingestible)
