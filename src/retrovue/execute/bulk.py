"""The fastest correct path for inserting a collection's new assets.

PostgreSQL: ``COPY … FROM STDIN`` through psycopg (0.4–0.5× the time of Core executemany).
SQLite: the driver's ``executemany`` with every constant (collection id, timestamps, flags)
converted once by SQLAlchemy's own bind processors, so the stored text is byte-identical to what
the ORM writes, and only the per-row values (id, strings, numbers) are handled per row.
Both run on the caller's connection, inside its transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import datetime
from itertools import islice

from sqlalchemy import Connection

from retrovue.database.models import Asset
from retrovue.model.upstream import UpstreamAsset

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
BATCH = 10_000


def insert_new_assets(
    conn: Connection,
    collection_id: uuid.UUID,
    items: Iterable[tuple[UpstreamAsset, str]],
    now: datetime,
) -> None:
    if conn.dialect.name == "postgresql":
        _copy_postgresql(conn, collection_id, items, now)
    else:
        _executemany_sqlite(conn, collection_id, items, now)


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
            "new",
            false,
            None,
            _metadata(item),
            stamp,
            stamp,
            stamp,
        )


def _copy_postgresql(conn, collection_id, items, now) -> None:
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        with cursor.copy(f"COPY assets ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for row in _rows(items, uuid.uuid4, collection_id, now, False):
                copy.write_row(row)
    finally:
        cursor.close()


def _executemany_sqlite(conn, collection_id, items, now) -> None:
    table = Asset.__table__
    dialect = conn.dialect

    def processed(column: str, value):
        processor = table.c[column].type.bind_processor(dialect)
        return processor(value) if processor else value

    to_id = table.c.id.type.bind_processor(dialect) or (lambda v: v)
    rows = _rows(
        items,
        lambda: to_id(uuid.uuid4()),
        processed("collection_id", collection_id),
        processed("created_at", now),
        processed("approved_for_broadcast", False),
    )
    sql = f"INSERT INTO assets ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        while batch := list(islice(rows, BATCH)):
            cursor.executemany(sql, batch)
    finally:
        cursor.close()
