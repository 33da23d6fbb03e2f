"""How many assets of a collection each of its enrichers would enrich: the plan's preview.

The executor chooses the assets again when it runs (``execute/enrich.py``), from the same
condition, so this number and the run's work are the same set when nothing moved in between:
the stored assets still to enrich, plus the ones this plan's ingest creates or changes (a changed
file's earlier results were for its old change token).

Assets a killed run left ``enriching`` are drift of their own (``stuck``): nothing else would
ever settle them once their enricher is detached or has nothing left to do, so the plan shows
them for every stored collection, enrichers attached or not.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from retrovue.model.actions import CollectionAddress, EnrichCollection
from retrovue.model.enrichment import EnricherSpec, EnrichWork

if TYPE_CHECKING:
    from retrovue.enrichers.registry import EnricherRegistry
    from retrovue.observe.reader import DbReader


def plan_enrichment(
    reader: DbReader,
    enrichers: Callable[[], EnricherRegistry],
    collection: CollectionAddress,
    collection_id: uuid.UUID | None,
    specs: Sequence[EnricherSpec],
    *,
    new: int = 0,
    changed_ids: Collection[str] = (),
    force: bool = False,
    retry_failed: bool = False,
) -> tuple[EnrichCollection | None, list[str]]:
    """(the EnrichCollection for ``collection``, or None without enrichers nor stuck assets;
    notes on enrichers that cannot run here).  ``enrichers`` loads the registry only when there
    are ``specs``."""
    if not specs:
        return plan_stuck(reader, collection, collection_id), []
    registry = enrichers()
    work: list[EnrichWork] = []
    unavailable: list[str] = []
    notes: list[str] = []
    for spec in specs:
        reason = registry.unavailable_reason(spec.type)
        if reason is not None:
            notes.append(f"{collection}: enricher '{spec.type}' cannot run: {reason}")
            unavailable.append(spec.type)
            continue
        stored = (
            reader.enrich_pending(collection_id, spec.type, force=force, retry_failed=retry_failed)
            if collection_id is not None
            else set()
        )
        version = str(registry.enrichers[spec.type].cls.version)
        work.append(EnrichWork(spec.type, version, new + len(stored.union(changed_ids))))
    action = EnrichCollection(
        collection,
        tuple(work),
        force=force,
        retry_failed=retry_failed,
        unavailable=tuple(unavailable),
        stuck=_stuck(reader, collection_id),
    )
    return action, notes


def plan_stuck(
    reader: DbReader, collection: CollectionAddress, collection_id: uuid.UUID | None
) -> EnrichCollection | None:
    """An EnrichCollection that only settles the assets a killed run left ``enriching``, or None
    when there are none: for a collection with no enricher attached, or none to run (not synced,
    not ingestible)."""
    stuck = _stuck(reader, collection_id)
    return EnrichCollection(collection, (), stuck=stuck) if stuck else None


def _stuck(reader: DbReader, collection_id: uuid.UUID | None) -> int:
    return reader.left_enriching(collection_id) if collection_id is not None else 0
