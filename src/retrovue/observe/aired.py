"""Which assets have aired: referenced by the playout side's ``playlog_events`` or ``as_run_log``.

Such assets protect their collection and source from deletion (production safety); planning
counts them and the executor counts them again inside the deleting transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import ColumnElement, Connection, Select, func, select

from retrovue.database.tables import AsRunLog, Asset, Collection, PlaylogEvent


def is_aired() -> ColumnElement[bool]:
    """True for an ``assets`` row that a playout log references."""
    return (
        select(PlaylogEvent.c.id).where(PlaylogEvent.c.asset_id == Asset.c.id).exists()
        | select(AsRunLog.c.id).where(AsRunLog.c.asset_id == Asset.c.id).exists()
    )


def collections_of(source_id: uuid.UUID) -> Select:
    return select(Collection.c.id).where(Collection.c.source_id == source_id)


def asset_count(conn: Connection, collection_ids: Iterable[uuid.UUID] | Select) -> int:
    ids = collection_ids if isinstance(collection_ids, Select) else list(collection_ids)
    query = select(func.count()).select_from(Asset).where(Asset.c.collection_id.in_(ids))
    return int(conn.execute(query).scalar_one())


def aired_count(conn: Connection, collection_ids: Iterable[uuid.UUID] | Select) -> int:
    """Assets of these collections that have aired."""
    ids = collection_ids if isinstance(collection_ids, Select) else list(collection_ids)
    query = (
        select(func.count()).select_from(Asset).where(Asset.c.collection_id.in_(ids), is_aired())
    )
    return int(conn.execute(query).scalar_one())
