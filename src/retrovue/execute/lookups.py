"""Resolve plan addresses to rows inside a unit of work.

Collections of a source created earlier in the same apply have no id in the plan; they are found
by ``(source, external_id)`` when the unit runs.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, select

from retrovue.database.tables import Collection, PathMapping, Source
from retrovue.errors import RetrovueError
from retrovue.model.actions import Action, CollectionAddress, source_of
from retrovue.model.upstream import PathMappingSpec


def source_name_of(action: Action) -> str:
    return source_of(action).name


def action_source_id(conn: Connection, action: Action) -> uuid.UUID:
    address = source_of(action)
    if address.id is not None:
        return address.id
    return source_row(conn, action.collection).id


def source_row(conn: Connection, address: CollectionAddress):
    source = address.source
    query = select(Source.c.id, Source.c.type, Source.c.config)
    if source.id is not None:
        query = query.where(Source.c.id == source.id)
    else:
        query = query.where(Source.c.name == source.name)
    row = conn.execute(query).first()
    if row is None:
        raise RetrovueError(f"source '{source.name}' no longer exists")
    return row


def collection_id_of(
    conn: Connection, source_id: uuid.UUID, address: CollectionAddress
) -> uuid.UUID:
    if address.id is not None:
        return address.id
    row = conn.execute(
        select(Collection.c.id).where(
            Collection.c.source_id == source_id, Collection.c.external_id == address.external_id
        )
    ).first()
    if row is None:
        raise RetrovueError(f"{address} no longer exists")
    return row.id


def usable_mappings(conn: Connection, collection_id: uuid.UUID) -> list[PathMappingSpec]:
    """The collection's mappings that have a local_path (the ones path resolution can use)."""
    rows = conn.execute(
        select(PathMapping.c.upstream_path, PathMapping.c.local_path).where(
            PathMapping.c.collection_id == collection_id, PathMapping.c.local_path.is_not(None)
        )
    )
    return [PathMappingSpec(r.upstream_path, r.local_path) for r in rows]


def collection_locations(conn: Connection, collection_id: uuid.UUID) -> tuple[str, ...]:
    row = conn.execute(select(Collection.c.locations).where(Collection.c.id == collection_id)).one()
    return tuple(row.locations or ())
