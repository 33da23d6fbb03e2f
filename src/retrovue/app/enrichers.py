"""Enricher use cases (issue 11): `enricher list-types`, `source attach-enricher|detach-enricher`,
and what `collection update --add-enricher|--remove-enricher` and the show commands share.

An attach names a type the registry can run now (an unknown or unavailable one is refused with
the available types, nothing written); a detach does not ask, so a type whose plugin is gone can
still be detached.  Attaching what is already attached with the same priority writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrovue.app.context import Context
from retrovue.app.selectors import resolve_source
from retrovue.errors import UsageError
from retrovue.model.actions import Plan
from retrovue.model.enrichment import EnricherSpec
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.plan.imperative import collection_address, source_address
from retrovue.plan.imperative.enrichers import AttachmentChange, plan_attach, plan_detach

if TYPE_CHECKING:
    from retrovue.enrichers.registry import EnricherRegistry, EnricherType

#: the range --priority accepts (stored as a 32-bit integer)
PRIORITY_RANGE = (-1_000_000, 1_000_000)


def enricher_registry() -> EnricherRegistry:
    """Loaded per command; a duplicate type id fails here, loudly, naming both providers."""
    from retrovue.enrichers.registry import load_registry

    return load_registry()


def list_enricher_types(registry: EnricherRegistry | None = None) -> list[EnricherType]:
    """Every registered type and every plugin that failed to load, sorted by type id."""
    return (registry or enricher_registry()).list_types()


def check_attachable(registry: EnricherRegistry, type_id: str) -> None:
    """Refuse a type that cannot run here: unknown, broken, non-compliant, or needing
    parameters the command cannot give (the config file can)."""
    from retrovue.enrichers.base import resolve_params
    from retrovue.enrichers.errors import EnricherParamsError, UnknownEnricherTypeError

    if not type_id.strip():
        raise UsageError("Enricher type must not be empty")
    usable = [t for t in registry.types() if registry.available(t)]
    if type_id not in registry.enrichers and type_id not in registry.broken:
        raise UnknownEnricherTypeError(
            f"Unknown enricher type '{type_id}'",
            hint=f"available types: {', '.join(usable) or 'none'}",
        )
    cls = registry.require_available(type_id)  # names the reason and the available types
    try:
        resolve_params(cls.param_spec(), {})
    except EnricherParamsError as exc:
        raise EnricherParamsError(
            f"Enricher '{type_id}' needs parameters: {exc.message}",
            hint="declare it with its parameters under `enrichers:` in retrovue.yaml",
        ) from exc


def check_priority(priority: int) -> None:
    low, high = PRIORITY_RANGE
    if not low <= priority <= high:
        raise UsageError(f"--priority must be between {low:,} and {high:,}")


# -- source attach-enricher / detach-enricher ------------------------------------------------------


@dataclass(frozen=True)
class SourceAttachment:
    source: DbSource
    change: AttachmentChange
    plan: Plan
    dry_run: bool


def _source_owner(source: DbSource) -> str:
    return f"source '{source.name}'"


def attach_to_source(
    ctx: Context, selector: str, type_id: str, priority: int = 0, *, dry_run: bool = False
) -> SourceAttachment:
    check_priority(priority)
    source = resolve_source(ctx.snapshot(), selector)
    check_attachable(enricher_registry(), type_id)
    change = plan_attach(
        _source_owner(source), source_address(source), None, source.enrichers, type_id, priority
    )
    return _commit_source(ctx, source, change, "attach-enricher", dry_run)


def detach_from_source(
    ctx: Context, selector: str, type_id: str, *, dry_run: bool = False
) -> SourceAttachment:
    source = resolve_source(ctx.snapshot(), selector)
    holders = [c.name for c in source.collections if any(s.type == type_id for s in c.enrichers)]
    elsewhere = (
        "its collection(s) "
        + ", ".join(f"'{n}'" for n in sorted(holders))
        + " (use `retrovue collection update C --remove-enricher`)"
        if holders
        else None
    )
    change = plan_detach(
        _source_owner(source), source_address(source), None, source.enrichers, type_id, elsewhere
    )
    return _commit_source(ctx, source, change, "detach-enricher", dry_run)


def _commit_source(
    ctx: Context, source: DbSource, change: AttachmentChange, verb: str, dry_run: bool
) -> SourceAttachment:
    plan = Plan((change.action,) if change.action else ())
    if change.action is not None and not dry_run:
        ctx.commit_source_changes(
            plan,
            f"source {verb} {source.id}",
            precondition=attachments_unchanged(ctx, source.id, None, change.before),
        )
    return SourceAttachment(source, change, plan, dry_run)


def attachments_unchanged(ctx: Context, source_id, collection_id, before):
    """A precondition run under the apply lock: the owner's attachments are still ``before``,
    so a concurrent attach or detach is never overwritten unseen."""
    from retrovue.errors import ConcurrentModificationError

    def check() -> None:
        snapshot = ctx.snapshot()
        source = next((s for s in snapshot.sources if s.id == source_id), None)
        owner = source
        if source is not None and collection_id is not None:
            owner = next((c for c in source.collections if c.id == collection_id), None)
        if owner is None or tuple(owner.enrichers) != tuple(before):
            raise ConcurrentModificationError("Enrichers were changed concurrently. Please retry.")

    return check


# -- collections ------------------------------------------------------------------------------------


def collection_change(
    source: DbSource,
    col: DbCollection,
    *,
    add: str | None,
    remove: str | None,
    priority: int,
) -> AttachmentChange:
    """The change of `collection update --add-enricher|--remove-enricher` (checked, not run)."""
    owner = f"collection '{col.name}'"
    address = collection_address(source, col)
    if add is not None:
        check_priority(priority)
        check_attachable(enricher_registry(), add)
        return plan_attach(owner, address.source, address, col.enrichers, add, priority)
    elsewhere = (
        f"its source '{source.name}' (use `retrovue source detach-enricher`)"
        if any(s.type == remove for s in source.enrichers)
        else None
    )
    return plan_detach(owner, address.source, address, col.enrichers, remove, elsewhere)


@dataclass(frozen=True)
class EffectiveEnricher:
    """One enricher a collection runs, and where its attachment comes from."""

    spec: EnricherSpec
    origin: str  # "source" | "collection" | "collection (overrides source)"

    def to_json(self) -> dict:
        return {
            "type": self.spec.type,
            "priority": self.spec.priority,
            "params": dict(self.spec.params),
            "from": self.origin,
        }


def effective_enrichers(source: DbSource, col: DbCollection) -> tuple[EffectiveEnricher, ...]:
    """The collection's enrichers in run order, each with its origin."""
    own = {s.type for s in col.enrichers}
    inherited = {s.type for s in source.enrichers}
    shown = []
    for spec in source.enrichers_of(col):
        if spec.type not in own:
            origin = "source"
        elif spec.type in inherited:
            origin = "collection (overrides source)"
        else:
            origin = "collection"
        shown.append(EffectiveEnricher(spec, origin))
    return tuple(shown)
