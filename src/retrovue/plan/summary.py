"""Counts over a plan: the JSON document carries them and every renderer shows them, so text,
markdown and JSON agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import singledispatch
from typing import Any

from retrovue.model.actions import (
    AddCollection,
    CreateSource,
    DeleteSource,
    EnrichCollection,
    IngestCollection,
    Plan,
    PruneSource,
    RenameCollection,
    SetApproval,
    SetCollectionSync,
    SetEnrichers,
    SetIngestible,
    SetPathMappings,
    UpdateSource,
    WipeCollection,
    is_warning,
)


@dataclass(frozen=True)
class PlanSummary:
    sources_create: int = 0
    sources_update: int = 0
    collections_discover: int = 0
    collections_change: int = 0
    assets_new: int = 0
    #: content changed or remapped: each asset counted once
    assets_changed: int = 0
    assets_missing: int = 0
    assets_unchanged: int = 0
    #: back from missing; also counted in assets_changed or assets_unchanged by their content
    assets_reappeared: int = 0
    duplicates: int = 0
    #: the mass-missing guard held: nothing will be marked missing there
    collections_degraded: int = 0
    #: assets a collection's enrichers would enrich (per collection, its largest enricher's
    #: count: an asset every enricher would read is counted once)
    assets_enrich: int = 0
    #: assets a killed run left ``enriching``, to be settled (new, or ready by the ready rule)
    assets_stuck: int = 0
    #: notes that change nothing (a collection gone upstream, a source kept out of the config)
    warnings: int = 0
    #: parts of the plan that could not be made (an unreachable upstream, …)
    problems: int = 0
    #: sources deleted (a pruned source, `source delete`)
    sources_delete: int = 0
    #: assets deleted with their collection's wipe (`collection wipe`)
    assets_delete: int = 0

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Tally:
    """The counts being made, and what is known of the plan so far."""

    counts: dict[str, int]
    created: set[str] = field(default_factory=set)  # source names
    updated: set[str] = field(default_factory=set)
    #: sources whose enrichers change without a CreateSource or UpdateSource of their own
    attached: set[str] = field(default_factory=set)
    discovered: set[tuple[str, str]] = field(default_factory=set)  # (source, external_id)
    changed_collections: set[tuple[str, str]] = field(default_factory=set)

    def changed(self, collection) -> None:
        self.changed_collections.add((collection.source.name, collection.external_id))


def summarize(plan: Plan) -> PlanSummary:
    tally_ = Tally(dict.fromkeys(PlanSummary.__dataclass_fields__, 0))
    for a in plan.actions:
        tally_.counts["warnings"] += is_warning(a)
        tally(a, tally_)
    counts = tally_.counts
    counts["sources_update"] += len(tally_.attached - tally_.created - tally_.updated)
    # new collections count as discovered, not as changed
    counts["collections_change"] = len(tally_.changed_collections - tally_.discovered)
    counts["problems"] = len(plan.problems)
    return PlanSummary(**counts)


@singledispatch
def tally(action: Any, into: Tally) -> None:
    """What one action adds to the plan's counts; each kind registers its own (a kind that
    counts for nothing registers nothing)."""


@tally.register
def _(a: CreateSource, into: Tally) -> None:
    into.counts["sources_create"] += 1
    into.created.add(a.source.name)


@tally.register
def _(a: UpdateSource, into: Tally) -> None:
    into.counts["sources_update"] += 1
    into.updated.add(a.source.name)


@tally.register
def _(a: AddCollection, into: Tally) -> None:
    into.counts["collections_discover"] += 1
    into.discovered.add((a.collection.source.name, a.collection.external_id))


@tally.register(RenameCollection)
@tally.register(SetApproval)
@tally.register(SetCollectionSync)
@tally.register(SetPathMappings)
@tally.register(SetIngestible)
def _(a: Any, into: Tally) -> None:
    into.changed(a.collection)


@tally.register
def _(a: SetEnrichers, into: Tally) -> None:
    if a.collection is not None:
        into.changed(a.collection)
    else:  # its settings change, though no UpdateSource does
        into.attached.add(a.source.name)


@tally.register
def _(a: EnrichCollection, into: Tally) -> None:
    into.counts["assets_enrich"] += max((w.assets for w in a.work), default=0)
    into.counts["assets_stuck"] += a.stuck


@tally.register
def _(a: PruneSource, into: Tally) -> None:
    into.counts["sources_delete"] += a.will_delete


@tally.register
def _(a: DeleteSource, into: Tally) -> None:
    into.counts["sources_delete"] += 1


@tally.register
def _(a: WipeCollection, into: Tally) -> None:
    into.counts["assets_delete"] += a.assets


@tally.register
def _(a: IngestCollection, into: Tally) -> None:
    _add_ingest(into.counts, a)


def _add_ingest(counts: dict, a: IngestCollection) -> None:
    # new/changed/remapped/unchanged split the items; reappeared is a second look at some of
    # them, so adding it to the changed ones counted a file that came back altered twice
    c = a.counts
    counts["assets_new"] += c.new
    counts["assets_changed"] += c.changed + c.remapped
    counts["assets_missing"] += c.missing
    counts["assets_unchanged"] += c.unchanged
    counts["assets_reappeared"] += c.reappeared
    counts["duplicates"] += c.duplicates
    counts["collections_degraded"] += a.degraded
