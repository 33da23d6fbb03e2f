"""The fastest correct paths for writing a collection's asset diff, on the driver itself.

Inserts: PostgreSQL ``COPY … FROM STDIN`` through psycopg (0.4–0.5× the time of Core
executemany); SQLite the driver's ``executemany``, one statement prepared once.  Updates of
changed and remapped rows: one set-based statement over arrays on PostgreSQL (``unnest``), the
driver's ``executemany`` of plain tuples on SQLite.  Missing and reappeared marking: one
``UPDATE … WHERE id = ANY(array)`` / ``IN (SELECT value FROM json_each(?))`` per batch.

Every value is converted once by SQLAlchemy's own bind processors for the dialect (ids,
timestamps, booleans), so the stored text is byte-identical to what the ORM writes; only the
per-row values (ids, strings, numbers) are handled per row.  Ids of stored rows are used as the
index read them (``observe.db.load_asset_index``: the column's text), never re-parsed.  All of it
runs on the caller's connection, inside its transaction.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice

from sqlalchemy import Connection, bindparam, update

from retrovue.database.engine import driver_cursor
from retrovue.database.tables import Asset
from retrovue.model.enrichment import PROBED_COLUMNS
from retrovue.model.enums import AssetState
from retrovue.model.upstream import UpstreamAsset

#: the state of a new or changed asset, as the drivers are handed it (a plain str)
NEW = AssetState.NEW.value

COLUMNS = (
    "id",
    "collection_id",
    "source_uri",
    "canonical_uri",
    "kind",
    "title",
    "series_title",
    "season_number",
    "episode_number",
    "year",
    "duration_ms",
    "size",
    "change_token",
    "state",
    "approved_for_broadcast",
    "missing_since",
    "metadata",
    "discovered_at",
    "created_at",
    "updated_at",
)
#: what a changed item rewrites (besides state, approval and missing_since), with PostgreSQL's
#: array type for each (``unnest`` needs them spelled out)
CHANGED = (
    ("canonical_uri", "text"),
    ("kind", "text"),
    ("title", "text"),
    ("series_title", "text"),
    ("season_number", "integer"),
    ("episode_number", "integer"),
    ("year", "integer"),
    ("duration_ms", "bigint"),
    ("size", "bigint"),
    ("change_token", "text"),
    ("metadata", "json"),
)
#: a changed file's probed facts describe the file it replaced: cleared until it is enriched
#: again (its earlier results in ``metadata["enrichers"]`` go with the rewritten metadata)
CLEARED = PROBED_COLUMNS
BATCH = 10_000


def insert_new_assets(
    conn: Connection,
    collection_id: uuid.UUID,
    items: Iterable[tuple[UpstreamAsset, str]],
    now: datetime,
) -> None:
    if _postgresql(conn):
        _copy_postgresql(conn, collection_id, items, now)
    else:
        _executemany_sqlite(conn, collection_id, items, now)


def update_changed(
    conn: Connection, changed: list[tuple[str | uuid.UUID, UpstreamAsset, str]], now: datetime
) -> None:
    """Rewrite changed items' content and metadata, back to ``state=new``, not approved, not
    missing, with no probed facts (see ``CLEARED``)."""
    values = (
        (
            asset_id,
            canonical,
            item.kind,
            item.title,
            item.series_title,
            item.season_number,
            item.episode_number,
            item.year,
            item.duration_ms,
            item.size,
            item.change_token,
            _metadata(item),
        )
        for asset_id, item, canonical in changed
    )
    cleared = "".join(f", {name} = NULL" for name in CLEARED)
    reset = f"state = '{NEW}', approved_for_broadcast = {{false}}, missing_since = NULL" + cleared
    if _postgresql(conn):
        columns = ", ".join(f"{name} = v.{name}" for name, _ in CHANGED)
        _unnest(
            conn,
            f"UPDATE assets AS a SET {columns}, {reset.format(false='false')}, updated_at = %s"
            " FROM unnest({arrays}) AS v({names}) WHERE a.id = v.id",
            (("id", "uuid"), *CHANGED),
            values,
            now,
        )
    else:
        columns = ", ".join(f"{name} = ?" for name, _ in CHANGED)
        _executemany_updates(
            conn,
            f"UPDATE assets SET {columns}, {reset.format(false='0')}, updated_at = ? WHERE id = ?",
            values,
            now,
        )


def update_canonical(
    conn: Connection, remapped: list[tuple[str | uuid.UUID, str]], now: datetime
) -> None:
    """Point remapped items at their new canonical_uri (content unchanged); not missing."""
    if _postgresql(conn):
        _unnest(
            conn,
            "UPDATE assets AS a SET canonical_uri = v.canonical_uri, missing_since = NULL,"
            " updated_at = %s FROM unnest({arrays}) AS v({names}) WHERE a.id = v.id",
            (("id", "uuid"), ("canonical_uri", "text")),
            iter(remapped),
            now,
        )
    else:
        _executemany_updates(
            conn,
            "UPDATE assets SET canonical_uri = ?, missing_since = NULL, updated_at = ? WHERE id = ?",
            iter(remapped),
            now,
        )


def update_moved(
    conn: Connection, moved: list[tuple[str | uuid.UUID, UpstreamAsset, str]], now: datetime
) -> None:
    """Point moved assets at their new file: its URI, path and what the path tells (title,
    season, …); content unchanged, so their state, facts and approval stay.  A moved folder's
    files, not a library's: one statement each is enough."""
    if not moved:
        return
    statement = (
        update(Asset)
        .where(Asset.c.id == bindparam("moved_id"))
        .values(
            source_uri=bindparam("moved_uri"),
            canonical_uri=bindparam("moved_canonical"),
            kind=bindparam("moved_kind"),
            title=bindparam("moved_title"),
            series_title=bindparam("moved_series"),
            season_number=bindparam("moved_season"),
            episode_number=bindparam("moved_episode"),
            year=bindparam("moved_year"),
            metadata=bindparam("moved_metadata"),
            missing_since=None,
            updated_at=now,
        )
    )
    conn.execute(
        statement,
        [
            {
                "moved_id": asset_id if isinstance(asset_id, uuid.UUID) else uuid.UUID(asset_id),
                "moved_uri": item.source_uri,
                "moved_canonical": canonical,
                "moved_kind": item.kind,
                "moved_title": item.title,
                "moved_series": item.series_title,
                "moved_season": item.season_number,
                "moved_episode": item.episode_number,
                "moved_year": item.year,
                "moved_metadata": dict(item.metadata) if item.metadata else None,
            }
            for asset_id, item, canonical in moved
        ],
    )


def set_missing(
    conn: Connection, ids: list[str | uuid.UUID], since: datetime | None, now: datetime
) -> None:
    """Mark assets missing since ``since`` (None: back from missing), one statement per batch.
    A missing asset is not ready (a scheduler selecting ready assets must not pick a file that
    is gone), so marking one missing also makes it ``new`` and clears its approval (approved
    implies ready); ``ingest.ready_again`` promotes one that comes back unchanged."""
    if not ids:
        return
    demote = "" if since is None else ", state = 'new', approved_for_broadcast = {false}"
    if _postgresql(conn):
        sql = (
            "UPDATE assets SET missing_since = %s, updated_at = %s"
            + demote.format(false="false")
            + " WHERE id = ANY(%s::uuid[])"
        )
        with driver_cursor(conn) as cursor:
            for start in range(0, len(ids), BATCH):
                cursor.execute(sql, (since, now, [str(i) for i in ids[start : start + BATCH]]))
        return
    stamp = _processor("updated_at", conn.dialect)
    sql = (
        "UPDATE assets SET missing_since = ?, updated_at = ?"
        + demote.format(false="0")
        + " WHERE id IN (SELECT value FROM json_each(?))"
    )
    with driver_cursor(conn) as cursor:
        for start in range(0, len(ids), BATCH):
            chunk = [_sqlite_id(i) for i in ids[start : start + BATCH]]
            cursor.execute(sql, (stamp(since), stamp(now), json.dumps(chunk)))


def forget_enrichments(conn: Connection, ids: list[str | uuid.UUID]) -> None:
    """Delete the enrichment ledger rows of assets whose file changed: a ledger row always holds
    its asset's current change token, which lets a plan prove with two counts that nothing is
    left to enrich (``observe.enrichment``)."""
    if not ids:
        return
    if _postgresql(conn):
        sql = "DELETE FROM asset_enrichments WHERE asset_id = ANY(%s::uuid[])"
        with driver_cursor(conn) as cursor:
            for start in range(0, len(ids), BATCH):
                cursor.execute(sql, ([str(i) for i in ids[start : start + BATCH]],))
        return
    sql = "DELETE FROM asset_enrichments WHERE asset_id IN (SELECT value FROM json_each(?))"
    with driver_cursor(conn) as cursor:
        for start in range(0, len(ids), BATCH):
            cursor.execute(sql, (json.dumps([_sqlite_id(i) for i in ids[start : start + BATCH]]),))


# -- inserts --------------------------------------------------------------------------------------


def _metadata(item: UpstreamAsset) -> str | None:
    return json.dumps(dict(item.metadata)) if item.metadata else None


def _rows(items, new_id, collection, stamp, false):
    """The ``COLUMNS`` tuple of each new asset, built in the backend's own spelling: one place
    for both bulk paths, a plain tuple per row (the cheapest thing to hand a driver)."""
    for item, canonical in items:
        yield (
            new_id(),
            collection,
            item.source_uri,
            canonical,
            item.kind,
            item.title,
            item.series_title,
            item.season_number,
            item.episode_number,
            item.year,
            item.duration_ms,
            item.size,
            item.change_token,
            NEW,
            false,
            None,
            _metadata(item),
            stamp,
            stamp,
            stamp,
        )


#: uuid4's bit surgery on a 128-bit integer: the version nibble set to 4, the variant to RFC 4122
_CLEAR = ~((0xC000 << 48) | (0xF000 << 64)) & ((1 << 128) - 1)
_SET = (0x8000 << 48) | (4 << 76)


def random_ids() -> Iterator[str]:
    """Version-4 UUIDs as 32 lowercase hex digits, the text SQLAlchemy's ``Uuid`` stores on SQLite
    and that PostgreSQL's ``uuid`` reads: ``uuid.uuid4().hex`` does the same per call through a
    ``UUID`` object, 3x slower (a tenth of a second per 100,000 new assets).  The randomness comes
    from ``os.urandom``, as uuid4's does, read in blocks."""
    while True:
        block = os.urandom(16 * 4096)
        for i in range(0, len(block), 16):
            yield f"{int.from_bytes(block[i : i + 16]) & _CLEAR | _SET:032x}"


def _copy_postgresql(conn, collection_id, items, now) -> None:
    from retrovue.execute.copy_writer import CopyWriter  # psycopg: PostgreSQL only

    statement = f"COPY assets ({', '.join(COLUMNS)}) FROM STDIN"
    with driver_cursor(conn) as cursor:
        with cursor.copy(statement, writer=CopyWriter(cursor)) as copy:
            for row in _rows(items, random_ids().__next__, collection_id, now, False):
                copy.write_row(row)


def _executemany_sqlite(conn, collection_id, items, now) -> None:
    dialect = conn.dialect
    rows = _rows(
        items,
        random_ids().__next__,
        _processor("collection_id", dialect)(collection_id),
        _processor("created_at", dialect)(now),
        _processor("approved_for_broadcast", dialect)(False),
    )
    sql = f"INSERT INTO assets ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    with driver_cursor(conn) as cursor:
        while batch := list(islice(rows, BATCH)):
            cursor.executemany(sql, batch)


# -- updates --------------------------------------------------------------------------------------


def _executemany_updates(conn, sql: str, values: Iterator[tuple], now: datetime) -> None:
    """SQLite: ``sql`` ends with ``updated_at = ? WHERE id = ?``; each value tuple starts with
    the id, which goes last."""
    stamp = _processor("updated_at", conn.dialect)(now)
    rows = ((*rest, stamp, _sqlite_id(asset_id)) for asset_id, *rest in values)
    with driver_cursor(conn) as cursor:
        while batch := list(islice(rows, BATCH)):
            cursor.executemany(sql, batch)


def _unnest(conn, sql: str, columns, values: Iterator[tuple], now: datetime) -> None:
    """PostgreSQL: one statement per batch, each column sent as one typed array."""
    arrays = ", ".join(f"%s::{kind}[]" for _name, kind in columns)
    names = ", ".join(name for name, _kind in columns)
    statement = sql.replace("{arrays}", arrays).replace("{names}", names)
    with driver_cursor(conn) as cursor:
        while batch := list(islice(values, BATCH)):
            transposed = [list(column) for column in zip(*batch, strict=True)]
            transposed[0] = [str(i) for i in transposed[0]]  # ids: text or UUID, sent as text
            cursor.execute(statement, (now, *transposed))


# -- the driver -----------------------------------------------------------------------------------


def _postgresql(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def _processor(column: str, dialect):
    """SQLAlchemy's own conversion of a value for ``assets.column`` on this dialect (the
    dialect's type, e.g. SQLite's DATETIME text), or the identity when it needs none."""
    type_ = Asset.c[column].type.dialect_impl(dialect)
    return type_.bind_processor(dialect) or _same


def _same(value):
    return value


def _sqlite_id(asset_id: str | uuid.UUID) -> str:
    """An id as SQLite stores it: the index's text as read, a UUID as the ORM would write it."""
    return asset_id if isinstance(asset_id, str) else asset_id.hex
