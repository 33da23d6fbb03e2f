"""`retrovue asset list | show` (contracts §14–§15)."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

from tests.imperative_helpers import add_fs, enable, media_fixture, one_json  # noqa: F401


def _ingest(rv, db_url, media):
    add_fs(rv, db_url, media)
    enable(rv, db_url, "Movies")
    enable(rv, db_url, "TV")
    assert rv("source", "ingest", "Library", db=db_url).code == 0


def test_list_json_and_order(rv, db_url, media):  # AL N-1 / N-2 / N-3 / JSON keys
    _ingest(rv, db_url, media)
    doc = one_json(rv("asset", "list", "--json", db=db_url).out)
    assert doc["total"] == len(doc["assets"]) == 5 and doc["truncated"] is False
    assert doc["filters"] == {
        "collection": None,
        "state": None,
        "approved": None,
        "missing": None,
        "limit": 100,  # issue 17: a page by default
        "after": None,
    }
    assert set(doc["assets"][0]) == {
        "id",
        "collection",
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
        "state",
        "approved_for_broadcast",
        "missing_since",
        "discovered_at",
    }
    names = [a["collection"]["name"] for a in doc["assets"]]
    assert names == sorted(names, key=str.casefold)
    movies = [a["canonical_uri"] for a in doc["assets"] if a["collection"]["name"] == "Movies"]
    assert movies == sorted(movies)


def test_filters_and_limit(rv, db_url, media):  # AL N-1 / N-4
    _ingest(rv, db_url, media)
    doc = one_json(
        rv("asset", "list", "--collection", "TV", "--limit", "2", "--json", db=db_url).out
    )
    assert doc["total"] == 2 and doc["truncated"] is True and doc["filters"]["limit"] == 2
    assert doc["filters"]["collection"] is not None
    doc = one_json(rv("asset", "list", "--state", "ready", "--json", db=db_url).out)
    assert doc["total"] == 0 and doc["assets"] == []
    assert one_json(rv("asset", "list", "--missing", "--json", db=db_url).out)["total"] == 0
    assert (
        one_json(rv("asset", "list", "--present", "--not-approved", "--json", db=db_url).out)[
            "total"
        ]
        == 5
    )
    human = rv("asset", "list", "--limit", "1", db=db_url).out.splitlines()
    assert human[-3] == "Total: 1 asset"
    assert human[-2] == "(limited to 1; more assets match; --all lists every one)"
    assert human[-1].startswith("Next page: retrovue asset list --limit 1 --after ")
    # issue 10: an aligned table with the source and collection of each asset
    assert human[0].split() == ["SOURCE", "COLLECTION", "STATE", "APPROVED", "MISSING", "URI", "ID"]
    assert human[1].split()[2:5] == ["new", "No", "-"] and len(human) == 5
    assert rv("asset", "list", "--state", "ready", db=db_url).out.splitlines() == [
        "No assets found",
        "Total: 0 assets",
    ]


def test_source_filter_and_column(rv, db_url, media):
    """issue 10: asset list --source keeps one source's assets; the table names each source."""
    _ingest(rv, db_url, media)
    add_fs(rv, db_url, media, "Other")
    doc = one_json(rv("asset", "list", "--source", "Library", "--json", db=db_url).out)
    assert doc["total"] == 5
    assert one_json(rv("asset", "list", "--source", "Other", "--json", db=db_url).out)["total"] == 0
    human = rv("asset", "list", "--source", "library", db=db_url).out.splitlines()
    assert [line.split()[0] for line in human[1:6]] == ["Library"] * 5
    assert human[-1] == "Total: 5 assets"
    r = rv("asset", "list", "--source", "nope", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "NOT_FOUND"


def test_usage_errors(rv, db_url):  # AL N-1: bad --state or --limit is a usage error (exit 1)
    for argv in (("--state", "bogus"), ("--limit", "0"), ("--limit", "5", "--all")):
        r = rv("asset", "list", *argv, "--json", db=db_url)
        assert r.code == 1 and one_json(r.out)["code"] == "USAGE_ERROR"


def test_show_by_each_selector(rv, db_url, media):  # AS N-1 / N-2
    _ingest(rv, db_url, media)
    first = one_json(rv("asset", "list", "--json", db=db_url).out)["assets"][0]
    for selector in (first["id"], first["source_uri"], first["canonical_uri"]):
        doc = one_json(rv("asset", "show", selector, "--json", db=db_url).out)
        assert doc["id"] == first["id"]
    assert list(doc) == [
        "status",
        "id",
        "collection",
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
        # issue 11: what the enrichers found
        "container",
        "video_codec",
        "audio_codec",
        "width",
        "height",
        "bit_rate",
        "loudness_lufs",
        "change_token",
        "state",
        "approved_for_broadcast",
        "missing_since",
        "enrichers",  # issue 11
        "metadata",
        "discovered_at",
        "created_at",
        "updated_at",
    ]
    assert set(doc["collection"]["source"]) == {"id", "name", "type"}
    human = rv("asset", "show", first["id"], db=db_url).out.splitlines()
    assert human[0] == f"Asset: {first['id']}"


def test_show_not_found_and_ambiguous(rv, db_url, media):  # AS N-1
    r = rv("asset", "show", "file:///nope", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out) == {
        "status": "error",
        "code": "NOT_FOUND",
        "message": "Asset 'file:///nope' not found",
    }
    add_fs(rv, db_url, media, "A")
    add_fs(rv, db_url, media, "B")
    for doc in one_json(rv("collection", "list", "--json", db=db_url).out)["collections"]:
        if doc["name"] == "Movies":
            enable(rv, db_url, doc["id"])
            assert rv("collection", "ingest", doc["id"], db=db_url).code == 0
    uri = one_json(rv("asset", "list", "--json", db=db_url).out)["assets"][0]["source_uri"]
    r = rv("asset", "show", uri, db=db_url)
    assert (
        r.code == 1
        and r.err.splitlines()[0]
        == f"Error: Multiple assets match '{uri}'. Please specify the UUID."
    )
    assert len(r.err.splitlines()) == 3


# -- issue 17, item 8: a page by default, keyset cursors, streamed output ----------------------

#: (source, collection, assets): mixed case, so the case-insensitive order is what pages follow
CATALOGUE = (("beta", "Shows", 40), ("Alpha", "tv", 90), ("Alpha", "Movies", 120))


def _catalogue(db_url) -> None:
    """250 assets written straight into the tables (the bulk path ingest uses).  Each
    canonical_uri is shared by two assets, so page boundaries fall between ties broken by id;
    every 5th asset is missing and every 7th ready and approved, so the filters keep some."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, update

    from retrovue.database.tables import Asset, Collection, Source
    from retrovue.execute.bulk import insert_new_assets
    from retrovue.model.upstream import UpstreamAsset

    now = datetime.now(UTC)
    sources: dict[str, uuid.UUID] = {}
    with _engine(db_url) as engine, engine.begin() as conn:
        for source, collection, count in CATALOGUE:
            if source not in sources:
                sources[source] = uuid.uuid4()
                conn.execute(
                    insert(Source).values(
                        id=sources[source], external_id=source, name=source, type="filesystem"
                    )
                )
            cid = uuid.uuid4()
            conn.execute(
                insert(Collection).values(
                    id=cid, source_id=sources[source], external_id=collection, name=collection
                )
            )
            items = [
                (
                    UpstreamAsset(f"file:///{collection}/{i}.mkv", f"/{i}", i, "t"),
                    f"/m/{i // 2:03d}",
                )
                for i in range(count)
            ]
            insert_new_assets(conn, cid, items, now)
        conn.execute(update(Asset).where(Asset.c.size % 5 == 0).values(missing_since=now))
        conn.execute(
            update(Asset)
            .where(Asset.c.size % 7 == 0)
            .values(state="ready", approved_for_broadcast=True)
        )


@contextmanager
def _engine(db_url):
    from retrovue.database.engine import DatabaseTarget, open_database

    engine = open_database(DatabaseTarget(db_url, False))
    try:
        yield engine
    finally:
        engine.dispose()


def _contract_order(db_url, *where) -> list[str]:
    """The ids of the assets matching ``where``, in the contract's order (AL N-2), sorted by the
    database in one query."""
    from sqlalchemy import func, select

    from retrovue.database.tables import Asset, Collection, Source

    query = (
        select(Asset.c.id)
        .join(Collection, Collection.c.id == Asset.c.collection_id)
        .join(Source, Source.c.id == Collection.c.source_id)
        .where(*where)
        .order_by(
            func.lower(Source.c.name),
            func.lower(Collection.c.name),
            Collection.c.id,
            Asset.c.canonical_uri,
            Asset.c.id,
        )
    )
    with _engine(db_url) as engine, engine.connect() as conn:
        return [str(i) for i in conn.execute(query).scalars()]


def _pages(rv, db_url, *argv) -> list[dict]:
    """Every page of `asset list --json ARGV`, each from the cursor the one before it gave."""
    pages = [one_json(rv("asset", "list", *argv, "--json", db=db_url).out)]
    while pages[-1]["next_after"] is not None:
        after = pages[-1]["next_after"]
        pages.append(
            one_json(rv("asset", "list", *argv, "--after", after, "--json", db=db_url).out)
        )
    return pages


def test_list_pages_by_default_and_cursors_walk_the_whole_order(rv, db_url):
    _catalogue(db_url)
    expected = _contract_order(db_url)
    first = one_json(rv("asset", "list", "--json", db=db_url).out)
    assert first["total"] == len(first["assets"]) == 100 and first["truncated"] is True
    assert first["next_after"] == first["assets"][-1]["id"]
    pages = _pages(rv, db_url, "--limit", "7")  # 7: boundaries land inside collections and ties
    assert [p["total"] for p in pages] == [7] * 35 + [5]
    assert [a["id"] for p in pages for a in p["assets"]] == expected
    assert pages[-1]["truncated"] is False and pages[-1]["next_after"] is None
    assert pages[1]["filters"]["after"] == pages[0]["next_after"]
    every = one_json(rv("asset", "list", "--all", "--json", db=db_url).out)
    assert [a["id"] for a in every["assets"]] == expected and every["total"] == 250
    assert every["truncated"] is False and every["filters"]["limit"] is None


def test_paging_combines_with_every_filter(rv, db_url):
    from retrovue.database.tables import Asset, Collection, Source

    _catalogue(db_url)
    tv = next(
        c
        for c in one_json(rv("collection", "list", "--json", db=db_url).out)["collections"]
        if c["name"] == "tv"
    )
    cases = {
        ("--collection", tv["id"]): [Collection.c.id == uuid.UUID(tv["id"])],
        ("--source", "alpha", "--state", "new", "--present", "--not-approved"): [
            Source.c.name == "Alpha",
            Asset.c.state == "new",
            Asset.c.missing_since.is_(None),
            Asset.c.approved_for_broadcast.is_(False),
        ],
        ("--missing",): [Asset.c.missing_since.is_not(None)],
        ("--approved",): [Asset.c.approved_for_broadcast.is_(True)],
    }
    for argv, where in cases.items():
        expected = _contract_order(db_url, *where)
        assert 11 < len(expected) < 250  # the filter keeps several pages, not everything
        pages = _pages(rv, db_url, *argv, "--limit", "11")
        assert [a["id"] for p in pages for a in p["assets"]] == expected, argv
        assert len(pages) == -(-len(expected) // 11)


def test_text_ends_with_the_command_for_the_next_page(rv, db_url):
    from retrovue.database.tables import Asset

    _catalogue(db_url)
    human = rv("asset", "list", "--state", "new", "--limit", "40", db=db_url).out.splitlines()
    assert len(human) == 1 + 40 + 3 and human[-3] == "Total: 40 assets"
    assert human[-2] == "(limited to 40; more assets match; --all lists every one)"
    command = human[-1].removeprefix("Next page: ").split()
    assert command[:3] == ["retrovue", "asset", "list"]
    assert command[3:-1] == ["--state", "new", "--limit", "40", "--after"]
    assert command[-1] == human[40].split()[-1]  # the last asset shown
    following = rv(*command[1:], "--json", db=db_url).out
    new = _contract_order(db_url, Asset.c.state == "new")
    assert [a["id"] for a in one_json(following)["assets"]] == new[40:80]
    default = rv("asset", "list", db=db_url).out.splitlines()
    assert len(default) == 1 + 100 + 3 and default[-3] == "Total: 100 assets"


def test_all_text_lists_every_asset_under_one_header(rv, db_url, monkeypatch):
    from retrovue.render import assets as view

    monkeypatch.setattr(view, "TABLE_BLOCK", 60)  # laid out in blocks, never all at once
    _catalogue(db_url)
    human = rv("asset", "list", "--all", db=db_url).out.splitlines()
    assert human[0].split()[0] == "SOURCE" and len(human) == 1 + 250 + 1
    assert [line.split()[-1] for line in human[1:-1]] == _contract_order(db_url)
    assert human[-1] == "Total: 250 assets"


def test_json_is_written_as_the_assets_are_read(db_url):
    """The document comes in pieces, an asset's piece before the next asset is read; joined, the
    pieces are what ``json.dumps(indent=2)`` writes for the whole document."""
    import json

    from retrovue.app.asset_read import AssetFilters, list_assets
    from retrovue.app.context import Context
    from retrovue.render import assets as view

    _catalogue(db_url)
    ctx = Context(db_url=db_url)
    try:
        with list_assets(ctx, AssetFilters(all=True)) as listing:
            chunks = view.list_json(listing)
            pieces = [next(chunks), next(chunks)]  # the head, then the first asset
            assert listing.assets.count == 1
            pieces += list(chunks)
    finally:
        ctx.close()
    text = "".join(pieces)
    doc = json.loads(text)
    assert text == json.dumps(doc, indent=2) + "\n"
    assert list(doc) == ["status", "filters", "assets", "total", "truncated", "next_after"]
    assert doc["total"] == len(doc["assets"]) == 250


def test_after_must_name_a_stored_asset(rv, db_url):
    _catalogue(db_url)
    r = rv("asset", "list", "--after", "nope", "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "USAGE_ERROR" and "--after" in r.err
    r = rv("asset", "list", "--after", str(uuid.uuid4()), "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "NOT_FOUND"
    last = _contract_order(db_url)[-1]
    doc = one_json(rv("asset", "list", "--after", last, "--json", db=db_url).out)
    assert doc["assets"] == [] and doc["truncated"] is False and doc["next_after"] is None


def test_after_within_one_collection_must_be_one_of_its_assets(rv, db_url):
    """With --collection the page reads the --after asset's key in its own statement; an empty
    page still tells a missing asset and one of another collection from the listing's end."""
    from retrovue.database.tables import Collection

    _catalogue(db_url)
    ids = {
        c["name"]: c["id"]
        for c in one_json(rv("collection", "list", "--json", db=db_url).out)["collections"]
    }
    tv = ("--collection", ids["tv"])
    r = rv("asset", "list", *tv, "--after", str(uuid.uuid4()), "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "NOT_FOUND"
    shows = _contract_order(db_url, Collection.c.id == uuid.UUID(ids["Shows"]))
    r = rv("asset", "list", *tv, "--after", shows[0], "--json", db=db_url)
    assert r.code == 1 and one_json(r.out)["code"] == "USAGE_ERROR"
    assert "not one of the assets listed" in r.err
    order = _contract_order(db_url, Collection.c.id == uuid.UUID(ids["tv"]))
    doc = one_json(rv("asset", "list", *tv, "--after", order[-1], "--json", db=db_url).out)
    assert doc["assets"] == [] and doc["truncated"] is False and doc["next_after"] is None
    doc = one_json(rv("asset", "list", *tv, "--after", order[-2], "--json", db=db_url).out)
    assert [a["id"] for a in doc["assets"]] == order[-1:]


def test_a_collection_named_by_its_id_lists_as_when_named_by_its_name(db_url, monkeypatch):
    """A page of a collection named by its id is read with its names in one statement
    (``asset_read._page_of_collection_by_id``); named by its name it takes the full path (names
    read first).  Under every filter, page after page, both list the same assets, names and
    next cursors; a name that is another collection's id still picks that collection by id."""
    from sqlalchemy import update

    from retrovue.app import asset_read
    from retrovue.app.asset_read import AssetFilters, list_assets
    from retrovue.app.context import Context
    from retrovue.database.tables import Asset, Collection

    _catalogue(db_url)
    with _engine(db_url) as engine, engine.begin() as conn:
        tv = conn.execute(select_id(Collection, "tv")).scalar_one()
        shows = conn.execute(select_id(Collection, "Shows")).scalar_one()
        conn.execute(  # titles for the text filter: LIKE's wildcards among them
            update(Asset)
            .where(Asset.c.collection_id == tv)
            .values(title="Half_%" + Asset.c.source_uri, kind="episode")
        )
        conn.execute(update(Asset).where(Asset.c.size % 3 == 0).values(kind="movie"))
        # a collection whose name is tv's id: the id still names tv
        conn.execute(update(Collection).where(Collection.c.id == shows).values(name=str(tv)))
    ctx = Context(db_url=db_url)
    names_read = []
    load_names = asset_read.load_names
    monkeypatch.setattr(asset_read, "load_names", lambda c: names_read.append(1) or load_names(c))

    def walk(selector: str, **given) -> list[tuple]:
        pages, after = [], None
        while True:
            filters = AssetFilters(collection=selector, limit=7, after=after, **given)
            with list_assets(ctx, filters) as listing:
                items = list(listing.assets)
                pages.append(
                    (
                        [(str(i.asset.id), i.collection_name) for i in items],
                        {listing.source_names.get(i.asset.collection_id) for i in items},
                        listing.collection.id,
                        listing.assets.more,
                    )
                )
                after = listing.assets.next_after
            if after is None:
                return pages
            after = str(after)

    try:
        cases = [
            {},
            {"state": "ready"},
            {"approved": False, "missing": False},
            {"missing": True},
            {"kind": "movie"},
            {"search": "half_%file"},
            {"search": "_"},  # LIKE's wildcard: matches itself only, here in every title
            {"search": "%x"},
            {"state": "new", "kind": "episode", "search": "HALF"},
        ]
        for given in cases:
            names_read.clear()
            by_id = walk(str(tv), **given)
            # names are read only for an empty page (to tell why it is empty)
            assert len(names_read) == sum(1 for p in by_id if not p[0]), given
            # the full path: by the name tv still has (not the other collection's name)
            assert by_id == walk("Alpha/tv", **given), given
            assert all(p[2] == tv for p in by_id)
        assert len(walk(str(tv))) == -(-90 // 7)
        assert walk(str(tv), search="%x") == [([], set(), tv, False)]
        assert {n for p in walk(str(tv)) for n in p[1]} == {"Alpha"}
        assert walk(str(tv), kind="movie")[0][0][0][1] == "tv"
    finally:
        ctx.close()


def select_id(table, name: str):
    from sqlalchemy import select

    return select(table.c.id).where(table.c.name == name)


def test_a_first_page_on_sqlite_follows_the_listing_index_not_a_sort(tmp_path):
    """A page by collection id with no ``after`` (the first): with the collection's and source's
    names joined, SQLite's planner, told by ANALYZE that one collection holds every asset, read
    the whole collection and sorted it (17-28 ms at 100,000 assets); with the names as
    subqueries it follows the listing index and stops after a page."""
    from datetime import UTC, datetime

    from sqlalchemy import insert
    from sqlalchemy.dialects import sqlite

    from retrovue.database.tables import Collection, Source
    from retrovue.execute.bulk import insert_new_assets
    from retrovue.model.upstream import UpstreamAsset
    from retrovue.observe.assets import PageFilters, _page_statement, page_query

    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    sid, cid = uuid.uuid4(), uuid.uuid4()
    items = (
        (UpstreamAsset(f"file:///m/{i:04d}.mkv", f"/m/{i:04d}.mkv", i, str(i), "movie"), f"/m/{i}")
        for i in range(400)
    )
    with _engine(db_url) as engine:
        with engine.begin() as conn:
            conn.execute(
                insert(Source).values(id=sid, external_id="s", name="S", type="filesystem")
            )
            conn.execute(
                insert(Collection).values(id=cid, source_id=sid, external_id="c", name="C")
            )
            insert_new_assets(conn, cid, items, datetime.now(UTC))
            conn.exec_driver_sql("ANALYZE")
        query = page_query(cid, PageFilters(), None, 101)
        compiled = _page_statement(query.shape).compile(dialect=sqlite.dialect())
        values = {**query.params, "collection_id": cid.hex, "param_1": 0}
        with engine.connect() as conn:
            plan = conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(values[k] for k in compiled.positiontup)
            ).all()
    steps = " | ".join(row[-1] for row in plan)
    assert "USING INDEX ix_assets_collection_listing" in steps, steps
    assert "TEMP B-TREE" not in steps, steps
