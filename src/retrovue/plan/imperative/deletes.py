"""Plans for `source delete` and `collection wipe`, with their cascade counts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from retrovue.database.models import Asset
from retrovue.execute.delete import aired_count, safety_reason
from retrovue.model.actions import (
    DeleteSource,
    WipeCollection,
)
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.plan.imperative.sources import collection_address, source_address


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


def delete_targets(conn: Connection, sources: Sequence[DbSource]) -> list[DeleteTarget]:
    """Cascade counts and aired-asset counts per source, with grouped queries (PS-010)."""
    out = []
    for source in sources:
        ids = [c.id for c in source.collections]
        mappings = sum(len(c.path_mappings) for c in source.collections)
        assets = _count_assets(conn, ids)
        aired = aired_count(conn, ids) if ids else 0
        out.append(DeleteTarget(source, len(ids), mappings, assets, aired))
    return out


def _count_assets(conn: Connection, collection_ids: list[uuid.UUID]) -> int:
    if not collection_ids:
        return 0
    return int(
        conn.execute(
            select(func.count()).select_from(Asset).where(Asset.collection_id.in_(collection_ids))
        ).scalar_one()
    )


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


def wipe_counts(conn: Connection, collection: DbCollection) -> tuple[int, int]:
    """(assets, aired assets) of one collection."""
    return _count_assets(conn, [collection.id]), aired_count(conn, [collection.id])


def wipe_action(
    source: DbSource, collection: DbCollection, assets: int, override_safety: bool
) -> WipeCollection:
    return WipeCollection(collection_address(source, collection), assets, override_safety)


# -- source update (SU) ------------------------------------------------------------------------
