"""Source-level actions carried out inside a source's unit of work: one handler per action type.

Like alembic's ``toimpl``, the executor looks the handler up by the action's class; a handler gets
the connection, the action, the id of the source the unit works on (None until a CreateSource
made it) and the unit's timestamp, and returns the source id for the actions after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from retrovue.database.tables import (
    Collection,
    PathMapping,
    Source,
)
from retrovue.errors import RetrovueError
from retrovue.execute.approval import set_approval
from retrovue.execute.attachments import set_attachments
from retrovue.execute.delete import (
    delete_source,
    prune_source,
    set_mapping_local,
    wipe_collection,
)
from retrovue.execute.lookups import action_source_id, collection_id_of
from retrovue.logs import get_logger
from retrovue.model.actions import (
    Action,
    AddCollection,
    CollectionGoneUpstream,
    CreateSource,
    DeleteSource,
    PruneSource,
    RenameCollection,
    SetApproval,
    SetCollectionSync,
    SetEnrichers,
    SetIngestible,
    SetPathMappingLocal,
    SetPathMappings,
    UpdateSource,
    WipeCollection,
)
from retrovue.model.upstream import PathMappingSpec

log = get_logger("retrovue.execute")

SourceId = uuid.UUID | None
Handler = Callable[[Connection, Action, SourceId, datetime], SourceId]


def apply_source_action(
    conn: Connection, action: Action, source_id: SourceId, now: datetime
) -> SourceId:
    handler = HANDLERS.get(type(action))
    if handler is None:  # pragma: no cover - every source-level action type has a handler
        raise TypeError(f"no handler for {type(action).__name__}")
    return handler(conn, action, source_id, now)


# -- sources -------------------------------------------------------------------------------------


def _create_source(
    conn: Connection, action: CreateSource, _source_id: SourceId, now: datetime
) -> SourceId:
    new_id = uuid.uuid4()
    conn.execute(
        insert(Source).values(
            id=new_id,
            external_id=action.external_id,
            name=action.source.name,
            type=action.type,
            config=action.config,
            origin=action.origin,
            created_at=now,
            updated_at=now,
        )
    )
    return new_id


#: the columns an UpdateSource may set besides ``config.<param>``: never its id, origin or times
#: (an origin changed to "config" would make an imperatively made source prunable)
UPDATABLE_COLUMNS = frozenset({"name", "type"})


def _update_source(
    conn: Connection, action: UpdateSource, source_id: SourceId, now: datetime
) -> SourceId:
    _require_updatable(action)
    source_id = source_id or action_source_id(conn, action)
    row = conn.execute(select(Source.c.config).where(Source.c.id == source_id)).one()
    config = dict(row.config or {})
    values: dict = {"updated_at": now}
    for change in action.changes:
        key = change.config_key
        if key is not None:
            if change.after is None:
                config.pop(key, None)
            else:
                config[key] = change.after
        else:
            values[change.field] = change.after
    values["config"] = config
    conn.execute(update(Source).where(Source.c.id == source_id).values(**values))
    return source_id


def _require_updatable(action: UpdateSource) -> None:
    for change in action.changes:
        if change.config_key is None and change.field not in UPDATABLE_COLUMNS:
            raise RetrovueError(f"{action.source}: '{change.field}' is not a field an update sets")


def _delete_source(
    conn: Connection, action: DeleteSource, _source_id: SourceId, _now: datetime
) -> SourceId:
    delete_source(conn, action)
    return None


def _prune_source(
    conn: Connection, action: PruneSource, _source_id: SourceId, _now: datetime
) -> SourceId:
    prune_source(conn, action)
    return None


# -- collections ---------------------------------------------------------------------------------


def _add_collection(
    conn: Connection, action: AddCollection, source_id: SourceId, now: datetime
) -> SourceId:
    source_id = source_id or action_source_id(conn, action)
    collection_id = uuid.uuid4()
    c = action.collection
    conn.execute(
        insert(Collection).values(
            id=collection_id,
            source_id=source_id,
            external_id=c.external_id,
            name=c.name,
            sync_enabled=False,
            ingestible=False,
            locations=list(action.locations),
            config=_with_upstream_name({}, action.upstream_name),
            created_at=now,
            updated_at=now,
        )
    )
    write_mappings(conn, collection_id, action.path_mappings, now)
    return source_id


def _gone_upstream(
    _conn: Connection, action: CollectionGoneUpstream, source_id: SourceId, _now: datetime
) -> SourceId:
    log.warning("collection no longer offered upstream", collection=str(action.collection))
    return source_id


def _collection_update(write: Callable[[Connection, uuid.UUID, Action, datetime], None]) -> Handler:
    """A handler for an action on an existing collection: resolve its id, then ``write``."""

    def handler(conn: Connection, action: Action, source_id: SourceId, now: datetime) -> SourceId:
        source_id = source_id or action_source_id(conn, action)
        write(conn, collection_id_of(conn, source_id, action.collection), action, now)
        return source_id

    return handler


def _rename(conn: Connection, collection_id: uuid.UUID, a: RenameCollection, now) -> None:
    stored = conn.execute(select(Collection.c.config).where(Collection.c.id == collection_id))
    config = _with_upstream_name(dict(stored.scalar() or {}), a.upstream_name)
    _set_columns(conn, collection_id, now, name=a.after, config=config)


def _with_upstream_name(config: dict, upstream_name: str | None) -> dict | None:
    """The collection's config keeping the upstream's full name only while the stored name is
    a shortened form of it."""
    config.pop("upstream_name", None)
    if upstream_name is not None:
        config["upstream_name"] = upstream_name
    return config or None


def _set_columns(conn: Connection, collection_id: uuid.UUID, now: datetime, **values) -> None:
    table = Collection
    conn.execute(update(table).where(table.c.id == collection_id).values(updated_at=now, **values))


def sync_mappings(conn: Connection, collection_id: uuid.UUID, wanted, now: datetime) -> None:
    """Make the collection's mapping rows equal ``wanted`` touching only what differs: rows that
    stay keep their id and created_at (discovery never rewrites existing rows); a changed
    local_path is updated in place."""
    table = PathMapping
    existing = conn.execute(
        select(table.c.id, table.c.upstream_path, table.c.local_path).where(
            table.c.collection_id == collection_id
        )
    ).all()
    remaining = list(wanted)
    unmatched = []
    for row in existing:
        spec = PathMappingSpec(row.upstream_path, row.local_path)
        if spec in remaining:
            remaining.remove(spec)
        else:
            unmatched.append(row)
    for row in unmatched:
        replacement = next((m for m in remaining if m.upstream_path == row.upstream_path), None)
        if replacement is None:
            conn.execute(delete(table).where(table.c.id == row.id))
        else:
            remaining.remove(replacement)
            conn.execute(
                update(table)
                .where(table.c.id == row.id)
                .values(local_path=replacement.local_path, updated_at=now)
            )
    write_mappings(conn, collection_id, remaining, now)


def write_mappings(conn: Connection, collection_id: uuid.UUID, mappings, now: datetime) -> None:
    if mappings:
        conn.execute(
            insert(PathMapping),
            [
                {
                    "id": uuid.uuid4(),
                    "collection_id": collection_id,
                    "upstream_path": m.upstream_path,
                    "local_path": m.local_path,
                    "created_at": now,
                    "updated_at": now,
                }
                for m in mappings
            ],
        )


def _set_enrichers(
    conn: Connection, action: SetEnrichers, source_id: SourceId, now: datetime
) -> SourceId:
    source_id = source_id or action_source_id(conn, action)
    collection_id = (
        None if action.collection is None else collection_id_of(conn, source_id, action.collection)
    )
    set_attachments(
        conn, source_id=source_id, collection_id=collection_id, specs=action.after, now=now
    )
    return source_id


def register_handler(cls: type, handler: Handler) -> None:
    """The handler of a source-level action kind (one the executor runs in its source's unit)."""
    if cls in HANDLERS:
        raise ValueError(f"{cls.__name__} has a handler already")
    HANDLERS[cls] = handler


#: source-level action class -> the function that carries it out inside its source's unit
HANDLERS: dict[type, Handler] = {
    CreateSource: _create_source,
    UpdateSource: _update_source,
    PruneSource: _prune_source,
    DeleteSource: _delete_source,
    AddCollection: _add_collection,
    CollectionGoneUpstream: _gone_upstream,
    RenameCollection: _collection_update(lambda conn, cid, a, now: _rename(conn, cid, a, now)),
    SetCollectionSync: _collection_update(
        lambda conn, cid, a, now: _set_columns(conn, cid, now, sync_enabled=a.after)
    ),
    SetIngestible: _collection_update(
        lambda conn, cid, a, now: _set_columns(
            conn, cid, now, ingestible=a.after, ingestible_reason=a.reason
        )
    ),
    SetPathMappings: _collection_update(
        lambda conn, cid, a, now: sync_mappings(conn, cid, a.after, now)
    ),
    SetPathMappingLocal: _collection_update(set_mapping_local),
    WipeCollection: _collection_update(lambda conn, cid, a, now: wipe_collection(conn, a, now)),
    SetEnrichers: _set_enrichers,
    SetApproval: _collection_update(set_approval),
}
