"""Plans for `source delete` and `collection wipe`, with their cascade counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from retrovue.errors import safety_reason
from retrovue.model.actions import (
    DeleteSource,
    WipeCollection,
)
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.plan.imperative.sources import collection_address, source_address

if TYPE_CHECKING:  # planning reads through the reader it is given; it imports no SQL
    from retrovue.observe.reader import DbReader


@dataclass(frozen=True)
class DeleteTarget:
    source: DbSource
    collections: int
    path_mappings: int
    assets: int
    aired: int

    @property
    def reason(self) -> str:
        return safety_reason(self.aired)


def delete_targets(reader: DbReader, sources: Sequence[DbSource]) -> list[DeleteTarget]:
    """Cascade counts and aired-asset counts per source."""
    out = []
    for source in sources:
        ids = [c.id for c in source.collections]
        mappings = sum(len(c.path_mappings) for c in source.collections)
        tally = reader.tally_collections(ids)
        out.append(DeleteTarget(source, len(ids), mappings, tally.assets, tally.aired))
    return out


def delete_action(target: DeleteTarget, override_safety: bool) -> DeleteSource:
    s = target.source
    return DeleteSource(
        source_address(s),
        s.type,
        target.collections,
        target.path_mappings,
        target.assets,
        override_safety,
    )


def wipe_counts(reader: DbReader, collection: DbCollection) -> tuple[int, int]:
    """(assets, aired assets) of one collection."""
    tally = reader.tally_collections([collection.id])
    return tally.assets, tally.aired


def wipe_action(
    source: DbSource, collection: DbCollection, assets: int, override_safety: bool
) -> WipeCollection:
    return WipeCollection(collection_address(source, collection), assets, override_safety)
