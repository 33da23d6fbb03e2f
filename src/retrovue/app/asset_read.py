"""`asset list` and `asset show`: read-only views of ingested assets, each from one snapshot."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from retrovue.app.context import Context
from retrovue.app.selectors import as_uuid, resolve_asset, resolve_collection, resolve_source
from retrovue.errors import NotFoundError, UsageError
from retrovue.model.catalog import AssetOwner, AssetRecord, ListedAsset
from retrovue.model.enums import AssetState
from retrovue.model.snapshots import DbCollection, DbSource
from retrovue.observe import assets as stored
from retrovue.observe.db import load_names

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

#: the --state choices: the values, for click to show and match
STATES = tuple(state.value for state in AssetState)

#: assets on a page when neither --limit nor --all is given
PAGE_SIZE = 100


@dataclass(frozen=True)
class AssetFilters:
    collection: str | None = None  # a collection selector
    source: str | None = None  # a source selector
    state: str | None = None
    approved: bool | None = None
    missing: bool | None = None
    limit: int | None = None  # the page size asked for; None: PAGE_SIZE
    all: bool = False  # every matching asset, no page
    after: str | None = None  # an asset id: list from the asset after it
    kind: str | None = None  # movie, episode, …
    search: str | None = None  # a case-insensitive substring of the title or series title

    @property
    def page_size(self) -> int | None:
        """How many assets this listing shows at most (None: every one)."""
        if self.all:
            return None
        return PAGE_SIZE if self.limit is None else self.limit


class AssetPage:
    """The listed assets, read from the database as they are iterated (once, inside the read
    transaction).  Once iterated: how many were listed, whether more match, and the id of the
    last one, which ``--after`` continues from."""

    def __init__(self, rows: Generator[ListedAsset, None, None], size: int | None):
        self._rows, self.size = rows, size
        self.count = 0
        self.more = False
        self._last: ListedAsset | None = None

    def __iter__(self) -> Iterator[ListedAsset]:
        try:
            for item in self._rows:
                if self.count == self.size:  # the one read past the page: more match
                    self.more = True
                    return
                self.count += 1
                self._last = item
                yield item
        finally:
            self.close()  # the query's cursor, before the transaction ends

    def close(self) -> None:
        self._rows.close()

    @property
    def next_after(self) -> uuid.UUID | None:
        """The id to give ``--after`` for the next page; None when this page is the last."""
        return self._last.asset.id if self.more and self._last else None


class ReadPage(AssetPage):
    """A page read whole already (one FETCH, ``collection_page``): the same answers, known at
    once, without a generator step per asset."""

    def __init__(self, rows: list[ListedAsset], size: int):
        self.size, self._shown = size, rows[:size]
        self.count, self.more = len(self._shown), len(rows) > size
        self._last = self._shown[-1] if self._shown else None

    def __iter__(self) -> Iterator[ListedAsset]:
        return iter(self._shown)

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class AssetListing:
    assets: AssetPage
    filters: AssetFilters
    collection: stored.ListedCollection | None  # the collection the filter resolved to
    source: DbSource | None = None  # the source the filter resolved to
    # collection id -> its source's name, for the table's SOURCE column
    source_names: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AssetDetail:
    asset: AssetRecord
    owner: AssetOwner


@contextmanager
def list_assets(ctx: Context, filters: AssetFilters) -> Iterator[AssetListing]:
    """Assets matching every filter (AND), ordered by source, collection, canonical_uri, id: a
    page of ``filters.page_size`` from after ``filters.after``.  The listing reads as it is
    iterated, inside this block, from one snapshot."""
    if filters.all and filters.limit is not None:
        raise UsageError("--limit and --all conflict: --all lists every matching asset")
    chosen = source = None
    with ctx.reading() as conn:
        known = _page_of_collection_by_id(conn, filters)
        if known is not None:
            yield known
            return
        snapshot = load_names(conn)
        if filters.collection is not None:
            _source, chosen = resolve_collection(snapshot, filters.collection)
        if filters.source is not None:
            source = resolve_source(snapshot, filters.source)
        size = filters.page_size
        # a page of one collection reads the key of the asset it continues from in its own
        # statement; only a page that comes back empty reads it again, to tell a missing asset
        # or one of another collection (refused) from the end of the listing
        folded = filters.after is not None and chosen is not None and source is None
        if folded:
            after = _asset_id(filters.after)
        else:
            after = _cursor(conn, filters.after) if filters.after is not None else None
            _require_within(after, chosen, source, snapshot)
        rows = stored.iter_assets(
            conn,
            collection=chosen,
            source_id=source.id if source else None,
            state=filters.state,
            approved=filters.approved,
            missing=filters.missing,
            kind=filters.kind,
            search=filters.search,
            after=after,
            limit=None if size is None else size + 1,  # one more tells whether more match
        )
        if folded:
            rows = _checked(
                rows, lambda: _require_within(_cursor(conn, filters.after), chosen, None, snapshot)
            )
        names = {c.id: s.name for s in snapshot.sources for c in s.collections}
        page = AssetPage(rows, size)
        listed = None if chosen is None else stored.ListedCollection(*_named(chosen))
        try:
            yield AssetListing(page, filters, listed, source, names)
        finally:
            page.close()  # a page left part-read still lets go of its cursor in time


def _named(collection: DbCollection) -> tuple:
    return collection.id, collection.source_id, collection.name


def _page_of_collection_by_id(conn: Connection, filters: AssetFilters) -> AssetListing | None:
    """A page of the collection ``filters.collection`` names by its id (how the API pages, and
    the next-page command the CLI prints), read with the names it shows in one statement; None
    when that cannot be known so (another kind of selector, a source filter, every asset) or
    the page is empty, which the full path then explains: no such collection, an ``--after``
    outside it, or the end of the listing.

    A page that has rows proves what the full path would check: a collection has that id (an
    id wins over a name or external id equal to it, ``resolve_collection``) and the ``after``
    asset is one of its (the statement reads its key within the collection)."""
    request = _page_request(filters)
    if request is None:
        return None
    return _listing_of(stored.collection_page(conn, *request), filters)


class PageReader(Protocol):
    """Reads a page as ``observe.assets.collection_page`` does, on asyncio
    (``observe.async_pages.AsyncPages``)."""

    async def collection_page(
        self,
        collection_id: uuid.UUID,
        filters: stored.PageFilters,
        after: uuid.UUID | None,
        limit: int,
    ) -> stored.CollectionPage: ...

    async def close(self) -> None: ...


async def open_page_reader(engine: Engine, size: int) -> PageReader | None:
    """A ``PageReader`` on this event loop for the database ``engine`` opens, with up to ``size``
    connections of its own; None where there is no asyncio driver (SQLite)."""
    if engine.dialect.name != "postgresql":
        return None
    from retrovue.database.async_pool import open_async_pool
    from retrovue.observe.async_pages import AsyncPages

    return AsyncPages(await open_async_pool(engine, size))


async def page_of_collection_by_id(pages: PageReader, filters: AssetFilters) -> AssetListing | None:
    """``_page_of_collection_by_id``'s page, read by ``pages`` on the event loop: the listing
    ``list_assets`` would give, or None where it must be asked (its full path tells why a page
    is empty, and reads what this cannot)."""
    request = _page_request(filters)
    if request is None:
        return None
    return _listing_of(await pages.collection_page(*request), filters)


def _page_request(filters: AssetFilters) -> tuple | None:
    """What ``collection_page`` takes for this listing; None when the fast path cannot read it.
    One more asset than the page tells whether more match."""
    collection_id = as_uuid(filters.collection) if filters.collection is not None else None
    size = filters.page_size
    if collection_id is None or filters.source is not None or size is None:
        return None
    after = _asset_id(filters.after) if filters.after is not None else None
    content = stored.PageFilters(
        filters.state, filters.approved, filters.missing, filters.kind, filters.search
    )
    return collection_id, content, after, size + 1


def _listing_of(found: stored.CollectionPage, filters: AssetFilters) -> AssetListing | None:
    if found.collection is None:
        return None
    names = {found.collection.id: found.source_name}
    page = ReadPage(found.assets, filters.page_size)
    return AssetListing(page, filters, found.collection, None, names)


def _checked(rows: Generator, check: Callable[[], None]) -> Generator:
    """``rows``, its first read now (a page is one FETCH): when none comes, ``check`` runs before
    anything is shown, as reading the ``--after`` key first would have."""
    first = next(rows, None)
    if first is None:
        check()
    return _prepend(first, rows)


def _prepend(first, rows: Generator) -> Generator:
    try:
        if first is not None:
            yield first
            yield from rows
    finally:
        rows.close()


def _asset_id(after: str) -> uuid.UUID:
    try:
        return uuid.UUID(after.strip())
    except ValueError:
        raise UsageError(
            f"Invalid value for '--after': {after!r} is not an asset id (a UUID)"
        ) from None


def _cursor(conn: Connection, after: str) -> stored.AssetKey:
    """Where the asset ``--after`` names stands in the listing order."""
    asset_id = _asset_id(after)
    key = stored.asset_key(conn, asset_id)
    if key is None:
        raise NotFoundError(
            f"Asset '{after}' given to --after not found",
            hint="It may have been deleted since; list again without --after.",
        )
    return key


def _require_within(after, collection, source, snapshot) -> None:
    """An ``--after`` asset outside the collection or source filtered on is refused: the page
    after it is not a page of this listing."""
    if after is None:
        return
    outside = (collection is not None and after.collection_id != collection.id) or (
        source is not None and after.collection_id not in {c.id for c in source.collections}
    )
    if outside:
        raise UsageError(
            "Invalid value for '--after': that asset is not one of the assets listed",
            hint="Give the id the previous page of this listing ended with.",
        )


def show_asset(ctx: Context, selector: str) -> AssetDetail:
    """One asset, by id, then source_uri, then canonical_uri."""
    if not selector.strip():
        raise UsageError("Invalid asset ID format. Expected UUID, source URI, or canonical URI.")
    with ctx.reading() as conn:
        row = resolve_asset(conn, selector)
        owner = stored.asset_owner(conn, row.collection_id)
    return AssetDetail(stored.asset_record(row), owner)
