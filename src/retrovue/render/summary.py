"""Counts over a plan, shared by every renderer so text, markdown and JSON agree."""

from __future__ import annotations

from dataclasses import dataclass

from retrovue.model.actions import (
    Action,
    AddCollection,
    CollectionGoneUpstream,
    CreateSource,
    EnrichCollection,
    IngestCollection,
    Plan,
    PruneSource,
    RenameCollection,
    SetCollectionSync,
    SetEnrichers,
    SetIngestible,
    SetPathMappings,
    UpdateSource,
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
    #: notes that change nothing (a collection gone upstream, a source kept out of the config)
    warnings: int = 0
    #: parts of the plan that could not be made (an unreachable upstream, …)
    problems: int = 0

    def to_json(self) -> dict:
        return dict(self.__dict__)


def is_warning(action: Action) -> bool:
    """A note the plan shows with ``!`` that changes nothing."""
    if isinstance(action, CollectionGoneUpstream):
        return True
    return isinstance(action, PruneSource) and not action.will_delete


def summarize(plan: Plan) -> PlanSummary:
    counts = dict.fromkeys(PlanSummary.__dataclass_fields__, 0)
    changed_collections: set = set()
    created = {a.source.name for a in plan.actions if isinstance(a, CreateSource)}
    updated = {a.source.name for a in plan.actions if isinstance(a, UpdateSource)}
    discovered = {
        (a.collection.source.name, a.collection.external_id)
        for a in plan.actions
        if isinstance(a, AddCollection)
    }
    for a in plan.actions:
        counts["warnings"] += is_warning(a)
        if isinstance(a, CreateSource):
            counts["sources_create"] += 1
        elif isinstance(a, UpdateSource):
            counts["sources_update"] += 1
        elif isinstance(a, AddCollection):
            counts["collections_discover"] += 1
        elif isinstance(a, (RenameCollection, SetCollectionSync, SetPathMappings, SetIngestible)):
            changed_collections.add((a.collection.source.name, a.collection.external_id))
        elif isinstance(a, IngestCollection):
            _add_ingest(counts, a)
        elif isinstance(a, SetEnrichers) and a.collection is not None:
            changed_collections.add((a.collection.source.name, a.collection.external_id))
        elif isinstance(a, SetEnrichers) and a.source.name not in created | updated:
            counts["sources_update"] += 1  # its settings change, though no UpdateSource does
        elif isinstance(a, EnrichCollection):
            counts["assets_enrich"] += max((w.assets for w in a.work), default=0)
    counts["collections_change"] = len(
        changed_collections - discovered
    )  # new ones count as discovered
    counts["problems"] = len(plan.problems)
    return PlanSummary(**counts)


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


def notes(s: PlanSummary) -> str:
    """What the plan found that is not a change: empty when there is nothing of the kind."""
    parts = []
    if s.collections_degraded:
        parts.append(f"{plural(s.collections_degraded, 'collection')} degraded")
    if s.warnings:
        parts.append(plural(s.warnings, "warning"))
    if s.problems:
        parts.append(f"{plural(s.problems, 'problem')} (the rest was planned)")
    return ", ".join(parts)


def plural(n: int, noun: str, plural_noun: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else (plural_noun or noun + 's')}"
