"""`source discover`: store the collections a source newly offers (sync disabled), follow upstream
renames and add missing mapping rows, as one unit.

A stored collection's flags are never touched, and one the upstream no longer offers is kept.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.app.selectors import resolve_source
from retrovue.model.actions import Plan, SetIngestible
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.model.upstream import UpstreamCollection
from retrovue.plan import imperative as build


@dataclass(frozen=True)
class FoundCollection:
    found: build.DiscoveredCollection
    id: uuid.UUID | None  # None until stored
    sync_enabled: bool
    ingestible: bool


@dataclass(frozen=True)
class Discovery:
    source: DbSource
    #: what the upstream offers; None when the importer cannot list collections
    upstream: tuple[UpstreamCollection, ...] | None
    collections: tuple[FoundCollection, ...] = ()
    gone: tuple[DbCollection, ...] = ()  # stored, no longer offered upstream, kept
    plan: Plan = Plan(())
    dry_run: bool = False

    def count(self, status: str) -> int:
        return sum(c.found.status == status for c in self.collections)


def discover_collections(ctx: Context, selector: str, *, dry_run: bool = False) -> Discovery:
    source = resolve_source(ctx.snapshot(), selector)
    importer = ctx.importer_for(source)
    try:
        upstream = importer.list_collections()
    except NotImplementedError:
        return Discovery(source, None, dry_run=dry_run)
    planned = build.plan_discover(source, upstream, importer)
    plan = Plan(tuple(planned.actions))
    stored = None
    if not dry_run:
        if planned.actions:
            ctx.commit_source_changes(plan, f"source discover {source.id}")
        stored = next(s for s in ctx.snapshot().sources if s.id == source.id)
    found = tuple(_found(d, stored, planned.actions) for d in planned.collections)
    return Discovery(source, tuple(upstream), found, tuple(planned.gone), plan, dry_run)


def _found(d: build.DiscoveredCollection, stored: DbSource | None, actions) -> FoundCollection:
    row = stored.collection(d.upstream.external_id) if stored else d.stored
    if row is not None:
        return FoundCollection(d, row.id, row.sync_enabled, row.ingestible)
    planned_ingestible = any(
        isinstance(a, SetIngestible)
        and a.collection.external_id == d.upstream.external_id
        and a.after
        for a in actions
    )
    return FoundCollection(d, None, False, planned_ingestible)
