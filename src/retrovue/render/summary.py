"""Counts over a plan, shared by every renderer so text, markdown and JSON agree."""

from __future__ import annotations

from dataclasses import dataclass

from retrovue.model.actions import (
    AddCollection,
    CreateSource,
    IngestCollection,
    Plan,
    RenameCollection,
    SetCollectionSync,
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
    assets_changed: int = 0
    assets_missing: int = 0
    assets_unchanged: int = 0
    duplicates: int = 0

    def to_json(self) -> dict:
        return dict(self.__dict__)


def summarize(plan: Plan) -> PlanSummary:
    counts = dict.fromkeys(PlanSummary.__dataclass_fields__, 0)
    changed_collections: set = set()
    discovered = {
        (a.collection.source.name, a.collection.external_id)
        for a in plan.actions
        if isinstance(a, AddCollection)
    }
    for a in plan.actions:
        if isinstance(a, CreateSource):
            counts["sources_create"] += 1
        elif isinstance(a, UpdateSource):
            counts["sources_update"] += 1
        elif isinstance(a, AddCollection):
            counts["collections_discover"] += 1
        elif isinstance(a, (RenameCollection, SetCollectionSync, SetPathMappings, SetIngestible)):
            changed_collections.add((a.collection.source.name, a.collection.external_id))
        elif isinstance(a, IngestCollection):
            c = a.counts
            counts["assets_new"] += c.new
            counts["assets_changed"] += c.changed + c.remapped + c.reappeared
            counts["assets_missing"] += c.missing
            counts["assets_unchanged"] += c.unchanged
            counts["duplicates"] += c.duplicates
    counts["collections_change"] = len(
        changed_collections - discovered
    )  # new ones count as discovered
    return PlanSummary(**counts)


def plural(n: int, noun: str, plural_noun: str | None = None) -> str:
    return f"{n:,} {noun if n == 1 else (plural_noun or noun + 's')}"
