"""Read the database into plain snapshots: no ORM objects escape, so diffing needs no session.

``load_snapshot`` costs four SELECTs whatever the catalogue's size; ``load_asset_index`` is one
3-column-ish SELECT per collection (measured 10–16× cheaper than loading ORM entities).
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import closing, contextmanager

from sqlalchemy import Connection, Engine, Row, func, select

from retrovue.database.engine import driver_cursor
from retrovue.database.tables import Asset, Collection, PathMapping, Source
from retrovue.fingerprint import AssetDigest
from retrovue.model.snapshots import DbCollection, DbSnapshot, DbSource
from retrovue.model.stored_index import StoredIndex
from retrovue.model.upstream import PathMappingSpec
from retrovue.observe.enrichment import load_attachments


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One read transaction: REPEATABLE READ on PostgreSQL, an explicit BEGIN on SQLite (pysqlite
    would otherwise run each SELECT in its own implicit snapshot)."""
    if engine.dialect.name == "postgresql":
        with (
            engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn,
            conn.begin(),
        ):
            yield conn
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN")
        try:
            yield conn
        finally:
            conn.rollback()


def load_snapshot(conn: Connection) -> DbSnapshot:
    mappings: dict[uuid.UUID, list[PathMappingSpec]] = defaultdict(list)
    for row in conn.execute(
        select(
            PathMapping.c.collection_id, PathMapping.c.upstream_path, PathMapping.c.local_path
        ).order_by(PathMapping.c.collection_id, PathMapping.c.upstream_path)
    ):
        mappings[row.collection_id].append(PathMappingSpec(row.upstream_path, row.local_path))
    by_source, by_collection = load_attachments(conn)
    return _snapshot(conn, mappings, by_source, by_collection)


def load_names(conn: Connection) -> DbSnapshot:
    """The sources and their collections without their path mappings and enrichers (empty here):
    enough to resolve a selector and name what a listing shows, in one SELECT (sources joined to
    their collections) instead of four: a server's asset page reads this on every request, and
    each statement costs ~0.3 ms of the server's CPU and a round trip."""
    collections: dict[uuid.UUID, list[DbCollection]] = defaultdict(list)
    sources: dict[uuid.UUID, Row] = {}
    rows = conn.execute(
        select(
            *_SOURCE_NAMES,
            *(column.label(f"c_{column.name}") for column in _COLLECTION_NAMES),
        )
        .select_from(Source.outerjoin(Collection, Collection.c.source_id == Source.c.id))
        .order_by(Source.c.name, Source.c.id, Collection.c.name, Collection.c.id)
    )
    for row in rows:
        sources.setdefault(row.id, row)
        if row.c_id is not None:
            collections[row.id].append(
                DbCollection(
                    id=row.c_id,
                    source_id=row.id,
                    external_id=row.c_external_id,
                    name=row.c_name,
                    sync_enabled=row.c_sync_enabled,
                    ingestible=row.c_ingestible,
                    ingestible_reason=row.c_ingestible_reason,
                    locations=tuple(row.c_locations or ()),
                    path_mappings=(),
                )
            )
    return DbSnapshot(
        tuple(
            DbSource(
                id=row.id,
                external_id=row.external_id,
                name=row.name,
                type=row.type,
                config=dict(row.config or {}),
                origin=row.origin,
                collections=tuple(collections.get(row.id, ())),
            )
            for row in sources.values()
        )
    )


_SOURCE_NAMES = (
    Source.c.id,
    Source.c.external_id,
    Source.c.name,
    Source.c.type,
    Source.c.config,
    Source.c.origin,
)
_COLLECTION_NAMES = (
    Collection.c.id,
    Collection.c.external_id,
    Collection.c.name,
    Collection.c.sync_enabled,
    Collection.c.ingestible,
    Collection.c.ingestible_reason,
    Collection.c.locations,
)


def _snapshot(conn: Connection, mappings: dict, by_source: dict, by_collection: dict) -> DbSnapshot:
    collections: dict[uuid.UUID, list[DbCollection]] = defaultdict(list)
    for row in conn.execute(select(Collection).order_by(Collection.c.name, Collection.c.id)):
        collections[row.source_id].append(
            DbCollection(
                id=row.id,
                source_id=row.source_id,
                external_id=row.external_id,
                name=row.name,
                sync_enabled=row.sync_enabled,
                ingestible=row.ingestible,
                ingestible_reason=row.ingestible_reason,
                locations=tuple(row.locations or ()),
                path_mappings=tuple(mappings.get(row.id, ())),
                enrichers=by_collection.get(row.id, ()),
            )
        )
    sources = tuple(
        DbSource(
            id=row.id,
            external_id=row.external_id,
            name=row.name,
            type=row.type,
            config=dict(row.config or {}),
            origin=row.origin,
            collections=tuple(collections.get(row.id, ())),
            enrichers=by_source.get(row.id, ()),
        )
        for row in conn.execute(select(Source).order_by(Source.c.name, Source.c.id))
    )
    return DbSnapshot(sources)


def load_asset_index(
    conn: Connection,
    collection_id: uuid.UUID,
    folders: tuple[str, ...] = (),
    *,
    fingerprint: bool = False,
) -> tuple[StoredIndex, str | None]:
    """The collection's stored index (``retrovue.model.stored_index``), in one SELECT of the
    comparison columns, and with ``fingerprint`` the digest of those same rows
    (``fingerprint.AssetDigest``: the read is then in ``source_uri`` order, and a saved
    plan's digest is of exactly the rows it diffed).

    ``folders`` (a folder scope, ``retrovue.importers.folder_scope``): only the assets whose
    local path is one of them or lies under one (``_scoped``); their paths are kept too (a
    scope's few assets: a move within it is matched by file name).  A scope's digest would
    not be the collection's, so the two are never asked together.

    Read on the driver's own cursor: SQLAlchemy's result rows cost 20% more time.  Ids come as
    text (32 hex digits on SQLite, the dashed form on PostgreSQL, as the other readers give
    them); ``missing`` as 0/1 on both backends.
    """
    assert not (folders and fingerprint), "a folder scope's digest is not the collection's"
    postgresql = conn.dialect.name == "postgresql"
    index = StoredIndex(dashed=postgresql, keep_paths=bool(folders))
    digest = AssetDigest() if fingerprint else None
    for rows in _stored_rows(conn, collection_id, ordered=fingerprint, folders=folders):
        index.extend(rows)
        if digest is not None:
            digest.update(rows)
    return index, None if digest is None else digest.hexdigest()


def asset_fingerprint(conn: Connection, collection_id: uuid.UUID) -> str:
    """The ``AssetDigest`` of the collection's stored rows, read in order and never held."""
    digest = AssetDigest()
    for rows in _stored_rows(conn, collection_id, ordered=True):
        digest.update(rows)
    return digest.hexdigest()


def stored_paths(
    conn: Connection, collection_id: uuid.UUID, ids: list[uuid.UUID | str]
) -> dict[uuid.UUID | str, str]:
    """``id -> canonical_uri`` of these stored assets (keyed by the ids as given)."""
    paths: dict[uuid.UUID | str, str] = {}
    by_uuid = {as_uuid(i): i for i in ids}
    keys = list(by_uuid)
    a = Asset.c
    for start in range(0, len(keys), _IDS_PER_STATEMENT):
        chunk = keys[start : start + _IDS_PER_STATEMENT]
        query = select(a.id, a.canonical_uri).where(
            a.collection_id == collection_id, a.id.in_(chunk)
        )
        for row in conn.execute(query):
            paths[by_uuid[row.id]] = row.canonical_uri
    return paths


#: bound ids per statement: under any SQLite build's variable limit (999 in old ones)
_IDS_PER_STATEMENT = 900


def _stored_rows(
    conn: Connection, collection_id: uuid.UUID, *, ordered: bool, folders: tuple[str, ...] = ()
) -> Iterator[list[tuple]]:
    """The comparison columns of the collection's assets, a batch of driver rows at a time.
    ``ordered``: by ``source_uri`` in code point order, as Python sorts strings (UTF-8 bytes
    compare the same way: SQLite's BINARY collation, PostgreSQL's "C").  ``folders``: only
    the assets at or under them (``_scoped``; never ordered: a scope is not fingerprinted)."""
    dialect = conn.dialect
    postgresql = dialect.name == "postgresql"
    statement = (
        f"SELECT source_uri, {'id::text' if postgresql else 'id'}, change_token, canonical_uri,"
        " CASE WHEN missing_since IS NULL THEN 0 ELSE 1 END"
        f" FROM assets WHERE collection_id = {'%s' if postgresql else '?'}"
    )
    if ordered:
        statement += " ORDER BY source_uri COLLATE " + ('"C"' if postgresql else "BINARY")
    bind = Asset.c.collection_id.type.dialect_impl(dialect).bind_processor(dialect)
    key = bind(collection_id) if bind else collection_id
    queries = _scoped(statement, key, folders, postgresql) if folders else [(statement, (key,))]
    # a range holds a few siblings too on SQLite ("F 2" sorts in "F"-"F0"): dropped here
    inside = tuple(f.rstrip(os.sep) + os.sep for f in folders)
    siblings = bool(folders) and not postgresql
    with _index_cursor(conn, postgresql) as cursor:
        for query, params in queries:
            cursor.execute(query, params)
            # fetchmany, not iteration: psycopg's cursor steps rows in Python (+15%), fetchmany
            # loads them in C; small batches, not fetchall: each batch is dropped once indexed
            # (1,000 measured fastest on both drivers, 5-20% under iteration, fetchall or 10,000)
            while rows := cursor.fetchmany(1_000):
                if siblings:
                    rows = [r for r in rows if r[3] in folders or r[3].startswith(inside)]
                yield rows


@contextmanager
def _index_cursor(conn: Connection, postgresql: bool) -> Iterator:
    """The driver cursor the stored rows are read on.  PostgreSQL's is a server-side cursor:
    psycopg's plain cursor receives the whole result into libpq's memory before the first
    ``fetchmany`` (a million rows made a no-change plan peak at 522 MiB against SQLite's
    308); this one fetches each batch when asked, inside the connection's transaction."""
    if postgresql:
        raw = conn.connection.dbapi_connection
        with closing(raw.cursor(name="retrovue_stored_rows")) as cursor:
            yield cursor
        return
    with driver_cursor(conn) as cursor, _small_page_cache(cursor, postgresql):
        yield cursor


def _scoped(statement: str, key, folders: tuple[str, ...], postgresql: bool) -> list:
    """The statements reading the assets at or under ``folders``.

    SQLite: one per folder, a range of the listing index (``ix_assets_collection_listing``;
    BINARY order is code point order, so what lies under ``F/`` sorts from ``F`` up to ``F0``):
    a millisecond each where a scan of a 100,000-asset collection took 40, and 200 folders
    OR-ed in one scan took 2 s.  PostgreSQL: one statement, the paths compared by prefix
    (``left`` against an array per prefix length): a range is wrong under its locale
    collations, and LIKE would need its wildcards escaped."""
    if not postgresql:
        query = statement + " AND canonical_uri >= ? AND canonical_uri < ?"
        return [(query, (key, f, f.rstrip(os.sep) + chr(ord(os.sep) + 1))) for f in folders]
    by_length: dict[int, list[str]] = {}
    for f in folders:
        prefix = f.rstrip(os.sep) + os.sep
        by_length.setdefault(len(prefix), []).append(prefix)
    conditions = ["canonical_uri = ANY(%s)"] + [
        f"left(canonical_uri, {n}) = ANY(%s)" for n in by_length
    ]
    params = (key, list(folders), *by_length.values())
    return [(statement + " AND (" + " OR ".join(conditions) + ")", params)]


def count_present(conn: Connection, collection_id: uuid.UUID) -> int:
    """How many of the collection's assets are present (not missing)."""
    return conn.execute(
        select(func.count())
        .select_from(Asset)
        .where(Asset.c.collection_id == collection_id, Asset.c.missing_since.is_(None))
    ).scalar_one()


#: SQLite pages cached while the index is read (KiB, SQLite's negative form)
_INDEX_READ_CACHE_KIB = 2048


@contextmanager
def _small_page_cache(cursor, postgresql: bool) -> Iterator[None]:
    """SQLite's page cache held small while the index is read: the read visits each page once,
    so the connection's 64 MiB cache (sized for bulk inserts, ``database.engine``) gains it
    nothing, and filled by it, it was a quarter of a 200,000-asset plan's peak memory."""
    if postgresql:
        yield
        return
    cursor.execute("PRAGMA cache_size")
    (size,) = cursor.fetchone()
    cursor.execute(f"PRAGMA cache_size={-_INDEX_READ_CACHE_KIB}")
    try:
        yield
    finally:
        cursor.execute(f"PRAGMA cache_size={int(size)}")


def as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)
