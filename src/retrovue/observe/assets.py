"""Stored assets for the read-only asset commands, as plain records."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, or_, select, text, tuple_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.visitors import InternalTraversal

from retrovue.database.engine import driver_cursor
from retrovue.database.tables import Asset, Collection, Source
from retrovue.model.catalog import AssetOwner, AssetRecord, AssetSummary, ListedAsset
from retrovue.model.snapshots import DbCollection

_COLUMNS = tuple(AssetRecord.__dataclass_fields__)
#: a listing's columns, in AssetSummary's order
_SUMMARY = tuple(Asset.c[name] for name in AssetSummary.__dataclass_fields__)
#: a page of one collection's columns: the summary's but its collection_id (second), known already
_PAGE = (_SUMMARY[0], *_SUMMARY[2:])


def asset_record(row) -> AssetRecord:
    """A row of the ``assets`` table as a record."""
    values = row._mapping
    return AssetRecord(**{name: values[name] for name in _COLUMNS})


#: rows fetched per round trip while streaming a listing (a server-side cursor on PostgreSQL)
STREAM_BATCH = 1_000


@dataclass(frozen=True)
class AssetKey:
    """Where an asset stands in the listing order: its collection, then canonical_uri and id."""

    collection_id: uuid.UUID
    canonical_uri: str
    id: uuid.UUID


@dataclass(frozen=True)
class ListedCollection:
    id: uuid.UUID
    source_id: uuid.UUID
    name: str


def asset_key(conn: Connection, asset_id: uuid.UUID) -> AssetKey | None:
    row = conn.execute(
        select(Asset.c.collection_id, Asset.c.canonical_uri, Asset.c.id).where(
            Asset.c.id == asset_id
        )
    ).one_or_none()
    return None if row is None else AssetKey(*row)


def iter_assets(
    conn: Connection,
    *,
    collection: DbCollection | None = None,
    source_id: uuid.UUID | None = None,
    state: str | None = None,
    approved: bool | None = None,
    missing: bool | None = None,
    kind: str | None = None,
    search: str | None = None,
    after: AssetKey | uuid.UUID | None = None,
    limit: int | None = None,
) -> Generator[ListedAsset, None, None]:
    """Assets matching every given filter, ordered by source, collection and canonical_uri, read
    as they are iterated; with ``after``, only those that come after that key (a keyset: nothing
    before it is read and skipped), at most ``limit`` of them.

    One query per collection in order, each sorted on (canonical_uri, id) and continuing after
    ``after`` in the collection it names: the source and collection names sort in the database,
    whose collation Python's comparison would not match.
    """
    conditions = _conditions(state, approved, missing) + _content_conditions(kind, search)
    if isinstance(after, uuid.UUID):  # an asset id, its key read by the page's own statement
        if collection is None:
            raise ValueError("an asset id as 'after' needs the collection it is in")
        conditions.append(_after_asset(collection.id, after))
        after = None
    if collection is not None:  # one collection: no other's order to read
        listed = [ListedCollection(collection.id, collection.source_id, collection.name)]
        if source_id not in (None, collection.source_id):
            listed = []  # a collection of another source than the one filtered on
    else:
        listed = _collections_from(conn, after, source_id)
    for one in listed:
        if limit == 0:
            return
        start = after if after is not None and after.collection_id == one.id else None
        for item in _collection_assets(conn, one, conditions, start, limit):
            yield item
            limit = None if limit is None else limit - 1


def _collections_from(
    conn: Connection, after: AssetKey | None, source_id: uuid.UUID | None
) -> list[ListedCollection]:
    """The collections the filters keep, in the listing order, from the one ``after`` is in."""
    rows = conn.execute(
        select(Collection.c.id, Collection.c.source_id, Collection.c.name)
        .join(Source, Source.c.id == Collection.c.source_id)
        .order_by(func.lower(Source.c.name), func.lower(Collection.c.name), Collection.c.id)
    ).all()
    ordered = [ListedCollection(*row) for row in rows]
    if after is not None:
        ordered = ordered[[c.id for c in ordered].index(after.collection_id) :]
    return [c for c in ordered if source_id in (None, c.source_id)]


def _collection_assets(
    conn: Connection,
    collection: ListedCollection,
    conditions: list,
    after: AssetKey | None,
    limit: int | None,
) -> Iterator[ListedAsset]:
    """One collection's matching assets on (canonical_uri, id), after ``after`` when given."""
    query = (
        select(*_SUMMARY)
        .where(Asset.c.collection_id == collection.id, *conditions)
        .order_by(Asset.c.canonical_uri, Asset.c.id)
    )
    if after is not None:
        query = query.where(
            tuple_(Asset.c.canonical_uri, Asset.c.id) > tuple_(after.canonical_uri, after.id)
        )
    if limit is not None:
        query = query.limit(limit)
    # a server-side cursor even for one page: PostgreSQL plans a cursor for its first rows
    # (cursor_tuple_fraction), i.e. the index in listing order; a plain query of a collection
    # just ingested, before autovacuum has analyzed it, was planned as a bitmap scan and a sort
    # of the whole collection (76 ms a page instead of 0.2 ms, measured).
    if limit is not None and conn.dialect.name == "postgresql":
        yield from _page_by_cursor(conn, collection, query, limit)
        return
    streaming = conn.execution_options(stream_results=True, yield_per=STREAM_BATCH)
    with streaming.execute(query) as rows:
        for row in rows:
            yield ListedAsset(AssetSummary(*row), collection.name)


@dataclass(frozen=True)
class PageFilters:
    """The filters of a page of one collection's assets (``collection_page``)."""

    state: str | None = None
    approved: bool | None = None
    missing: bool | None = None
    kind: str | None = None
    search: str | None = None


@dataclass(frozen=True)
class CollectionPage:
    """A page of one collection's assets, with the names the page shows (read by the same
    statement); ``collection`` and ``source_name`` are None when the page is empty."""

    assets: list[ListedAsset]
    collection: ListedCollection | None
    source_name: str | None


@dataclass(frozen=True)
class PageQuery:
    """The statement that reads a page of one collection (``page_query``): which filters it
    has, its parameters, and the name of the cursor declared for it on PostgreSQL."""

    shape: _PageShape
    params: dict
    cursor: str
    limit: int

    def text(self, dialect: str, driver: str) -> str:
        """Its SELECT as this driver takes it (named parameters: psycopg's, not pysqlite's)."""
        return _page_sql(dialect, driver, self.shape)


def page_query(
    collection_id: uuid.UUID,
    filters: PageFilters,
    after: uuid.UUID | None,
    limit: int,
) -> PageQuery:
    """At most ``limit`` matching assets of the collection with this id, after the asset ``after``
    of the same collection, in the listing order: one statement that also reads the collection's
    and its source's names, so a page of a collection named by its id needs no other read.  Its
    text is made once per set of filters; a filter not set is not in it.

    On PostgreSQL it is read through a cursor declared for it (a plan for the first rows: see
    ``_collection_assets``), named after the collection (a transaction reads a collection once,
    as ``_page_by_cursor``'s)."""
    shape = _PageShape(
        state=filters.state is not None,
        approved=filters.approved is not None,
        missing=filters.missing,
        kind=filters.kind is not None,
        search=bool(filters.search),
        after=after is not None,
    )
    params = {"collection_id": collection_id, "limit": limit}
    params.update(
        state=filters.state,
        approved=filters.approved,
        kind=filters.kind,
        pattern=_pattern(filters.search) if filters.search else None,
        after=after,
    )
    return PageQuery(
        shape,
        {k: v for k, v in params.items() if v is not None},
        f"rv_collection_{collection_id.hex}",
        limit,
    )


def page_of_rows(collection_id: uuid.UUID, rows: list) -> CollectionPage:
    """The page ``page_query``'s rows make.  An empty page does not tell why (no such collection,
    ``after`` not one of its assets, or nothing left): the caller reads the names then
    (``asset_read.list_assets``)."""
    if not rows:
        return CollectionPage([], None, None)
    width = len(_PAGE)
    name, source_id, source_name = rows[0][width:]
    # each row's collection_id is this one object: no id parsed a hundred times, and a page's
    # document tells its rows' collection by identity (web.documents)
    return CollectionPage(
        [ListedAsset(AssetSummary(row[0], collection_id, *row[1:width]), name) for row in rows],
        ListedCollection(collection_id, source_id, name),
        source_name,
    )


def collection_page(
    conn: Connection,
    collection_id: uuid.UUID,
    filters: PageFilters,
    after: uuid.UUID | None,
    limit: int,
) -> CollectionPage:
    """``page_query``'s page, read inside ``conn``'s transaction.  Reading the names first and
    building the statement through SQLAlchemy on every call cost 3.3 ms of the server's CPU per
    page of 100; this way 1.3 ms (measured in one process, 100,000 assets)."""
    query = page_query(collection_id, filters, after, limit)
    if conn.dialect.name == "postgresql":
        select_sql = query.text(conn.dialect.name, conn.dialect.driver)
        with driver_cursor(conn) as cursor:
            cursor.execute(
                f"DECLARE {query.cursor} NO SCROLL CURSOR FOR {select_sql}", query.params
            )
            cursor.execute(f"FETCH FORWARD {int(limit)} FROM {query.cursor}")
            rows = cursor.fetchall()
    else:
        rows = conn.execute(_page_statement(query.shape), query.params).all()
    return page_of_rows(collection_id, rows)


@dataclass(frozen=True)
class _PageShape:
    """Which filters a page has set: its statement's text depends on these alone."""

    state: bool
    approved: bool
    missing: bool | None
    kind: bool
    search: bool
    after: bool


def _page_statement(shape: _PageShape):
    """The page's SELECT, its values as named parameters (``collection_page`` gives them)."""
    conditions = [Asset.c.collection_id == bindparam("collection_id")]
    if shape.state:
        conditions.append(Asset.c.state == bindparam("state"))
    if shape.approved:
        conditions.append(Asset.c.approved_for_broadcast == bindparam("approved"))
    if shape.missing is not None:
        column = Asset.c.missing_since
        conditions.append(column.is_not(None) if shape.missing else column.is_(None))
    if shape.kind:
        conditions.append(Asset.c.kind == bindparam("kind"))
    if shape.search:
        conditions.append(_matches(bindparam("pattern")))
    if shape.after:
        key = (
            select(Asset.c.canonical_uri, Asset.c.id)
            .where(
                Asset.c.id == bindparam("after"),
                Asset.c.collection_id == bindparam("collection_id"),
            )
            .correlate(None)
            .scalar_subquery()
        )
        conditions.append(tuple_(Asset.c.canonical_uri, Asset.c.id) > key)
    # the names as subqueries of the collection's id alone, each read once, not as joins: with
    # the two joined, SQLite read the first page (no ``after``) by scanning the whole collection
    # and sorting it (17-28 ms at 100,000 assets); over ``assets`` alone it follows the listing
    # index (0.2-0.4 ms).  PostgreSQL reads each name once (an InitPlan) and costs the same
    # either way (0.32-0.43 ms of the backend's CPU a page, measured).
    this_collection = Collection.c.id == bindparam("collection_id")
    source_name = (
        select(Source.c.name)
        .join_from(Collection, Source, Source.c.id == Collection.c.source_id)
        .where(this_collection)
    )
    return (
        select(
            *_PAGE,
            select(Collection.c.name).where(this_collection).scalar_subquery(),
            select(Collection.c.source_id).where(this_collection).scalar_subquery(),
            source_name.scalar_subquery(),
        )
        .where(*conditions)
        .order_by(Asset.c.canonical_uri, Asset.c.id)
        .limit(bindparam("limit"))
    )


@functools.cache  # a pure function of its arguments: it holds SQL text, never a request's data
def _page_sql(dialect: str, driver: str, shape: _PageShape) -> str:
    """The page's SELECT as the driver takes it (read through a cursor for its plan: see
    ``_collection_assets``).  Keyed by the dialect's name and driver, whose compiler alone
    decides the text."""
    from sqlalchemy.dialects import registry

    return str(_page_statement(shape).compile(dialect=registry.load(f"{dialect}.{driver}")()))


def _after_asset(collection_id: uuid.UUID, asset_id: uuid.UUID):
    """Rows after the asset ``asset_id`` of this collection in the listing order, its key read by
    a subquery of the page's statement (one round trip less than reading the key first).  An
    asset that does not exist or is of another collection gives no row, so no rows match: the
    caller tells why (``asset_read.list_assets``)."""
    # uncorrelated: the subquery's own FROM assets (SQL's nearest scope) names the asset after,
    # not the row of the outer query; no alias, whose 27 column copies cost ~0.7 ms to make
    key = (
        select(Asset.c.canonical_uri, Asset.c.id)
        .where(Asset.c.id == asset_id, Asset.c.collection_id == collection_id)
        .correlate(None)
        .scalar_subquery()
    )
    return tuple_(Asset.c.canonical_uri, Asset.c.id) > key


def _page_by_cursor(
    conn: Connection, collection: ListedCollection, query, limit: int
) -> Iterator[ListedAsset]:
    """A page of at most ``limit`` rows through a cursor declared for it, in two round trips
    (DECLARE, then one FETCH of the whole page).  The driver's server-side cursor under
    ``stream_results`` takes four (DECLARE, a first FETCH of one row, FETCH, CLOSE): ~0.5 ms of
    the server's CPU and PostgreSQL's per API request.  The cursor needs no CLOSE: it lives only
    as long as the read transaction it is declared in (a listing reads inside one)."""
    name = f"rv_page_{collection.id.hex}"  # one per collection the page reads from
    conn.execute(DeclareCursor(name, query))
    fetch = text(f"FETCH FORWARD {int(limit)} FROM {name}").columns(*_SUMMARY)
    for row in conn.execute(fetch).all():
        yield ListedAsset(AssetSummary(*row), collection.name)


class DeclareCursor(Executable, ClauseElement):
    """``DECLARE name NO SCROLL CURSOR FOR query`` (PostgreSQL), cached as its query is: the
    name is part of the statement's text, so it is part of its cache key too."""

    _traverse_internals = [
        ("name", InternalTraversal.dp_string),
        ("query", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, name: str, query) -> None:
        self.name, self.query = name, query


@compiles(DeclareCursor)
def _declare(element: DeclareCursor, compiler, **kw) -> str:
    return f"DECLARE {element.name} NO SCROLL CURSOR FOR {compiler.process(element.query, **kw)}"


def _conditions(state, approved, missing) -> list:
    """The WHERE clauses of the filters that are set."""
    conditions = []
    if state is not None:
        conditions.append(Asset.c.state == state)
    if approved is not None:
        conditions.append(Asset.c.approved_for_broadcast == approved)
    if missing is not None:
        conditions.append(
            Asset.c.missing_since.is_not(None) if missing else Asset.c.missing_since.is_(None)
        )
    return conditions


def _content_conditions(kind: str | None, search: str | None) -> list:
    """``kind`` exactly; ``search``: a case-insensitive substring of the title or series title
    (``%`` and ``_`` in it match themselves)."""
    conditions = []
    if kind is not None:
        conditions.append(Asset.c.kind == kind)
    if search:
        conditions.append(_matches(_pattern(search)))
    return conditions


def _pattern(search: str) -> str:
    """The LIKE pattern of a case-insensitive substring (``%`` and ``_`` match themselves)."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped.lower()}%"


def _matches(pattern):
    """The title or series title is LIKE ``pattern`` (both lowered)."""
    return or_(
        func.lower(Asset.c.title).like(pattern, escape="\\"),
        func.lower(Asset.c.series_title).like(pattern, escape="\\"),
    )


def asset_owner(conn: Connection, collection_id: uuid.UUID) -> AssetOwner:
    row = conn.execute(
        select(
            Collection.c.id,
            Collection.c.name,
            Source.c.id.label("sid"),
            Source.c.name.label("sname"),
            Source.c.type,
        )
        .join(Source, Source.c.id == Collection.c.source_id)
        .where(Collection.c.id == collection_id)
    ).one()
    return AssetOwner(row.id, row.name, row.sid, row.sname, row.type)
