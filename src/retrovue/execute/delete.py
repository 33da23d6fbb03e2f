"""Executor handlers for the imperative-only actions: delete a source, wipe a collection, set one
path mapping's local_path.  Each runs inside the caller's unit (the executor's transaction).

Production safety is re-checked inside the unit: an asset that aired between the plan and this
write keeps its source/collection (the unit raises and rolls back alone; other units stand).
Prune deletes only what the file created: a source made with `retrovue source add` is kept, whatever
the plan says (a plan file may have been edited).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, delete, select, update

from retrovue.database.tables import AsRunLog, Asset, Collection, PathMapping, PlaylogEvent, Source
from retrovue.errors import ProductionSafetyError, RetrovueError, safety_reason
from retrovue.model.actions import DeleteSource, PruneSource, SetPathMappingLocal, WipeCollection
from retrovue.model.enums import SourceOrigin
from retrovue.observe.aired import aired_count, collections_of


def _drop_playout_rows(conn: Connection, asset_ids) -> None:
    """Only under --test-db --force: the playout rows would otherwise block the delete (FKs)."""
    conn.execute(delete(PlaylogEvent).where(PlaylogEvent.c.asset_id.in_(asset_ids)))
    conn.execute(delete(AsRunLog).where(AsRunLog.c.asset_id.in_(asset_ids)))


def prune_source(conn: Connection, action: PruneSource) -> None:
    """A source no longer declared: deleted as ``delete_source`` does, and only if the config
    created it (re-checked here: a saved plan crosses a trust boundary)."""
    _require_config_origin(conn, action)
    delete_source(conn, action)


def delete_source(conn: Connection, action: DeleteSource | PruneSource) -> None:
    """Delete a source with its collections, path mappings and assets, re-checking production
    safety inside the unit: an asset that aired since the plan keeps the source."""
    source_id = action.source.id
    collections = collections_of(source_id)
    assets = select(Asset.c.id).where(Asset.c.collection_id.in_(collections))
    if getattr(action, "override_safety", False):
        _drop_playout_rows(conn, assets)
    else:
        aired = aired_count(conn, collections)
        if aired:
            raise ProductionSafetyError(safety_reason(aired))
    # explicit deletes in FK order: SQLite without foreign_keys=ON would not cascade
    conn.execute(delete(Asset).where(Asset.c.collection_id.in_(collections)))
    conn.execute(delete(PathMapping).where(PathMapping.c.collection_id.in_(collections)))
    conn.execute(delete(Collection).where(Collection.c.source_id == source_id))
    if not conn.execute(delete(Source).where(Source.c.id == source_id)).rowcount:
        raise RetrovueError(f"{action.source} no longer exists")


def _require_config_origin(conn: Connection, action: PruneSource) -> None:
    origin = conn.execute(select(Source.c.origin).where(Source.c.id == action.source.id)).scalar()
    if origin is None:
        raise RetrovueError(f"{action.source} no longer exists")
    if origin != SourceOrigin.CONFIG:
        raise ProductionSafetyError(
            f"{action.source} was not created from the config (origin '{origin}'): prune never "
            "deletes it",
            hint="delete it with `retrovue source delete` if it should go",
        )


def wipe_collection(conn: Connection, action: WipeCollection, now: datetime) -> int:
    collection_id = action.collection.id
    assets = select(Asset.c.id).where(Asset.c.collection_id == collection_id)
    if action.override_safety:
        _drop_playout_rows(conn, assets)
    else:
        aired = aired_count(conn, [collection_id])
        if aired:
            raise ProductionSafetyError(safety_reason(aired))
    deleted = conn.execute(delete(Asset).where(Asset.c.collection_id == collection_id)).rowcount
    table = Collection
    conn.execute(
        update(table).where(table.c.id == collection_id).values(last_ingest_at=None, updated_at=now)
    )
    return deleted


def set_mapping_local(
    conn: Connection,
    collection_id: uuid.UUID,
    action: SetPathMappingLocal,
    now: datetime,
) -> None:
    table = PathMapping
    changed = conn.execute(
        update(table)
        .where(
            table.c.collection_id == collection_id,
            table.c.upstream_path == action.upstream_path,
        )
        .values(local_path=action.after, updated_at=now)
    ).rowcount
    if not changed:
        raise RetrovueError(
            f"{action.collection}: path mapping '{action.upstream_path}' no longer exists"
        )
    ctable = Collection
    conn.execute(update(ctable).where(ctable.c.id == collection_id).values(updated_at=now))
