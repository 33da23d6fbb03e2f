"""`source list-types`, `source list` and `source show`: reads, nothing written.

A listing and the times and counts beside it come from one read transaction, so they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retrovue.app.context import Context
from retrovue.app.selectors import resolve_source
from retrovue.app.source_params import registry_specs, unknown_type_error
from retrovue.importers.base import ParamSpec, is_compliant
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.observe.catalog import asset_counts, collection_times, source_times
from retrovue.observe.db import load_snapshot

NOT_COMPLIANT = "importer does not implement the importer interface"


def by_name(col: DbCollection) -> tuple:
    return (col.name.casefold(), str(col.id))


# -- list-types -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceType:
    type: str
    display_name: str
    importer_file: str | None  # None for a plugin that failed to load
    compliant: bool
    error: str | None
    parameters: tuple[ParamSpec, ...] = ()


def list_source_types(ctx: Context) -> list[SourceType]:
    """Every registered type, and every plugin that failed to load (listed, not fatal)."""
    registry = ctx.registry
    specs = registry_specs(registry)
    types = []
    for type_id, entry in sorted(registry.importers.items()):
        compliant = is_compliant(entry.cls)
        types.append(
            SourceType(
                type_id,
                getattr(entry.cls, "display_name", type_id),
                f"{entry.cls.__module__}.{entry.cls.__qualname__}",
                compliant,
                None if compliant else NOT_COMPLIANT,
                specs.get(type_id, ()),
            )
        )
    types += [
        SourceType(name, name, None, False, reason)
        for name, reason in sorted(registry.broken.items())
    ]
    return sorted(types, key=lambda t: t.type)


# -- list -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedSource:
    source: DbSource
    available: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class SourceListing:
    type_id: str | None  # the --type filter
    sources: tuple[ListedSource, ...]


def list_sources(ctx: Context, type_id: str | None = None) -> SourceListing:
    with ctx.reading() as conn:
        snapshot = load_snapshot(conn)
        times = source_times(conn)
    ctx.learn_secrets(snapshot)
    registry = ctx.registry
    if type_id is not None:
        # a stored source of an importer no longer loaded still names a type one may filter on
        known = set(registry.types()) | {s.type for s in snapshot.sources}
        if type_id not in known:
            raise unknown_type_error(type_id, sorted(known))
    sources = sorted(
        (s for s in snapshot.sources if type_id is None or s.type == type_id),
        key=lambda s: (s.name.casefold(), str(s.id)),
    )
    return SourceListing(
        type_id,
        tuple(ListedSource(s, registry.available(s.type), *times[s.id]) for s in sources),
    )


# -- show -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShownCollection:
    collection: DbCollection
    assets: int
    last_ingest_at: datetime | None


@dataclass(frozen=True)
class SourceDetail:
    source: DbSource
    available: bool
    importer_name: str | None
    sensitive: frozenset[str]
    collections: tuple[ShownCollection, ...]  # in name order
    created_at: datetime
    updated_at: datetime


def show_source(ctx: Context, selector: str) -> SourceDetail:
    with ctx.reading() as conn:
        snapshot = load_snapshot(conn)
        ctx.learn_secrets(snapshot)
        source = resolve_source(snapshot, selector)
        created_at, updated_at = source_times(conn)[source.id]
        ingested = collection_times(conn)
        counts = asset_counts(conn)
    entry = ctx.registry.importers.get(source.type)
    return SourceDetail(
        source,
        ctx.registry.available(source.type),
        getattr(entry.cls, "display_name", None) if entry else None,
        frozenset(ctx.sensitive_keys(source.type)),
        tuple(
            ShownCollection(col, counts.get(col.id, (0, 0))[0], ingested[col.id][0])
            for col in sorted(source.collections, key=by_name)
        ),
        created_at,
        updated_at,
    )
