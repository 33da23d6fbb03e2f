"""`source update`: a partial change of a source's name or parameters.

Only given values that differ become changes, so an update that changes nothing writes nothing
and keeps ``updated_at``.  The write is refused when the row moved since it was read: another
writer's change is never overwritten unseen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from retrovue.app.context import Context
from retrovue.app.selectors import resolve_source
from retrovue.app.source_add import MAX_NAME
from retrovue.app.source_params import checked_params, registry_specs
from retrovue.errors import (
    ConcurrentModificationError,
    ImporterUnavailableError,
    ValidationError,
)
from retrovue.model.actions import Plan
from retrovue.model.snapshots import DbSource
from retrovue.observe.sources import source_updated_at, stored_source
from retrovue.plan import imperative as build

IMMUTABLE = ("id", "external_id", "type", "created_at")


@dataclass(frozen=True)
class UpdateRequest:
    selector: str
    name: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # only what the operator gave
    #: values given for fields that never change (refused)
    immutable: Mapping[str, Any] = field(default_factory=dict)
    dry_run: bool = False


@dataclass(frozen=True)
class SourceUpdate:
    before: DbSource
    name: str  # proposed on a dry run, stored after
    config: dict  # proposed on a dry run, stored after
    sensitive: frozenset[str]
    updated: tuple[str, ...]  # the names of what changed: `name` and parameter names
    plan: Plan
    updated_at: datetime | None = None  # None on a dry run
    dry_run: bool = False


def update_source(
    ctx: Context, request: UpdateRequest, warn: Callable[[str], None] = lambda _text: None
) -> SourceUpdate:
    """``warn`` hears what the operator should know even though the command goes on."""
    for column in IMMUTABLE:
        if request.immutable.get(column) is not None:
            raise ValidationError(f"Cannot update immutable field '{column}'")
    snapshot = ctx.snapshot()
    source = resolve_source(snapshot, request.selector)
    new_name, params = _checked(ctx, request, source)
    sensitive = frozenset(ctx.sensitive_keys(source.type))
    action, names = build.plan_source_update(source, new_name, params, sensitive)
    if new_name not in (None, source.name) and any(
        other.id != source.id and other.name.casefold() == new_name.casefold()
        for other in snapshot.sources
    ):
        warn(f"another source is named '{new_name}'; name selectors will be ambiguous")
    if "base_path" in names and source.collections:
        warn(
            "existing collections now refer to subdirectories of the new base_path; "
            "the next ingest marks assets that are not found there as missing"
        )
    plan = Plan((action,) if action else ())
    if request.dry_run:
        proposed = {**source.config, **params}
        name = new_name if new_name is not None else source.name
        return SourceUpdate(source, name, proposed, sensitive, tuple(names), plan, dry_run=True)
    if action is not None:
        _commit_if_unmodified(ctx, plan, source, _updated_at(ctx, source))
    with ctx.reading() as conn:
        stored = stored_source(conn, source.id)
    return SourceUpdate(
        source, stored.name, stored.config, sensitive, tuple(names), plan, stored.updated_at
    )


def _checked(ctx: Context, request: UpdateRequest, source: DbSource) -> tuple[str | None, dict]:
    """The new name (stripped) and the normalised parameters."""
    name, given = request.name, request.params
    if name is None and not given:
        raise ValidationError(
            "No changes specified: give --name or a parameter flag",
            hint="see `retrovue source update --help`",
        )
    if name is not None and (not name.strip() or len(name) > MAX_NAME):
        raise ValidationError(
            f"Invalid source name: must be 1 to {MAX_NAME} characters and not blank"
        )
    params: dict = {}
    if given:
        # no importer can check the parameters of a source whose type is not loaded
        if not ctx.registry.available(source.type):
            raise ImporterUnavailableError(
                f"Source type '{source.type}' is not available",
                hint=f"source '{source.name}' has type '{source.type}', which no loaded importer "
                "provides; only --name can change",
            )
        specs = registry_specs(ctx.registry)[source.type]
        params = checked_params(source.type, specs, given, partial=True)
        ctx.register_secrets(params, ctx.sensitive_keys(source.type))
    return (name.strip() if name is not None else None), params


def _updated_at(ctx: Context, source: DbSource) -> datetime | None:
    with ctx.reading() as conn:
        return source_updated_at(conn, source.id)


def _commit_if_unmodified(ctx: Context, plan: Plan, source: DbSource, read_updated_at) -> None:
    """Checked under the lock, just before the unit runs, so no writer can slip in between."""

    def unmodified() -> None:
        now = _updated_at(ctx, source)
        if now is None or now != read_updated_at:
            raise ConcurrentModificationError("Source was modified concurrently. Please retry.")

    ctx.commit_source_changes(plan, f"source update {source.id}", precondition=unmodified)
