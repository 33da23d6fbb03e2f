"""The bulk insert path writes exactly what SQLAlchemy itself would write, on both backends."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import String, cast, insert, select

from retrovue.database.tables import Asset, Collection, Source
from retrovue.execute.bulk import insert_new_assets, set_missing, update_canonical, update_changed
from retrovue.importers.base import UpstreamAsset


def test_bulk_rows_read_back_like_core_rows(engine):
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    sid, cid = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            insert(Source).values(
                id=sid, external_id="s", name="s", type="filesystem", origin="cli"
            )
        )
        conn.execute(insert(Collection).values(id=cid, source_id=sid, external_id="c", name="c"))
        item = UpstreamAsset(
            source_uri="file:///m/a%20b.mkv",
            path="/m/a b.mkv",
            size=7,
            change_token="1:7",
            kind="episode",
            title="T",
            series_title="S",
            season_number=1,
            episode_number=2,
            year=None,
            duration_ms=1234,
            metadata={"k": "v"},
        )
        insert_new_assets(conn, cid, [(item, "/m/a b.mkv")], now)
    with engine.connect() as conn:
        asset = conn.execute(select(Asset)).one()
        assert isinstance(asset.id, uuid.UUID) and asset.collection_id == cid
        assert (asset.source_uri, asset.canonical_uri, asset.size, asset.change_token) == (
            "file:///m/a%20b.mkv",
            "/m/a b.mkv",
            7,
            "1:7",
        )
        assert (asset.state, asset.approved_for_broadcast, asset.missing_since) == (
            "new",
            False,
            None,
        )
        assert asset.metadata == {"k": "v"}
        assert asset.created_at.replace(tzinfo=UTC) == now
        # found again by its id through SQLAlchemy's Uuid type: the stored id spelling is its own
        found = conn.execute(select(Asset.c.source_uri).where(Asset.c.id == asset.id)).scalar_one()
        assert found == asset.source_uri


def _two_assets(engine):
    """Two stored assets written by SQLAlchemy's own Core path, as (collection id, index)."""
    return _stored_assets(engine, ("a", "b"))


def _stored_assets(engine, names, gone=("b",)):
    """Stored assets ``file:///m/{name}.mkv`` written by SQLAlchemy's own Core path (the ones
    named in ``gone`` missing), as (collection id, index)."""
    from retrovue.observe.db import load_asset_index

    sid, cid = uuid.uuid4(), uuid.uuid4()
    then = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Source).values(
                id=sid, external_id="s", name="s", type="filesystem", origin="cli"
            )
        )
        conn.execute(insert(Collection).values(id=cid, source_id=sid, external_id="c", name="c"))
        for name in names:
            conn.execute(
                insert(Asset).values(
                    id=uuid.uuid4(),
                    collection_id=cid,
                    source_uri=f"file:///m/{name}.mkv",
                    canonical_uri=f"/m/{name}.mkv",
                    kind="other",
                    change_token="1:1",
                    state="ready",
                    approved_for_broadcast=True,
                    missing_since=then if name in gone else None,
                    discovered_at=then,
                    created_at=then,
                    updated_at=then,
                )
            )
        return cid, load_asset_index(conn, cid)[0]


def test_set_based_updates_write_what_core_writes(engine):
    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    _cid, index = _two_assets(engine)
    a, b = index.id_of("file:///m/a.mkv"), index.id_of("file:///m/b.mkv")
    item = UpstreamAsset("file:///m/a.mkv", "/m/a.mkv", 9, "2:9", "episode", "T", "S", 1, 2)
    with engine.begin() as conn:
        update_changed(conn, [(a, item, "/n/a.mkv")], now)
        update_canonical(conn, [(b, "/n/b.mkv")], now)
        set_missing(conn, [b], None, now)
    with engine.connect() as conn:
        rows = {r.source_uri: r for r in conn.execute(select(Asset))}
        changed, remapped = rows["file:///m/a.mkv"], rows["file:///m/b.mkv"]
        assert (changed.canonical_uri, changed.size, changed.change_token) == ("/n/a.mkv", 9, "2:9")
        assert (changed.kind, changed.title, changed.series_title) == ("episode", "T", "S")
        assert (changed.season_number, changed.episode_number) == (1, 2)
        assert (changed.state, changed.approved_for_broadcast) == ("new", False)
        assert remapped.canonical_uri == "/n/b.mkv" and remapped.missing_since is None
        assert remapped.state == "ready"  # content unchanged: nothing else moves
        assert changed.updated_at.replace(tzinfo=UTC) == now
    with engine.begin() as conn:
        set_missing(conn, [a, b], now, now)
    with engine.connect() as conn:
        assert conn.execute(select(Asset.c.missing_since)).scalars().all() != [None, None]
        assert conn.execute(select(Asset.c.id).where(Asset.c.missing_since.is_(None))).all() == []


def test_sqlite_timestamps_are_stored_as_the_orm_stores_them(engine):
    """The bulk paths hand the driver SQLAlchemy's own text for a timestamp, not sqlite3's
    default adapter (which appends '+00:00' and is deprecated since Python 3.12)."""
    if engine.dialect.name != "sqlite":
        return
    from sqlalchemy import text

    now = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    cid, index = _two_assets(engine)
    item = UpstreamAsset("file:///m/c.mkv", "/m/c.mkv", 7, "1:7")
    with engine.begin() as conn:
        insert_new_assets(conn, cid, [(item, "/m/c.mkv")], now)
        set_missing(conn, [index.id_of("file:///m/a.mkv")], now, now)
    with engine.connect() as conn:
        stored = conn.execute(
            text("select created_at, updated_at, missing_since from assets where source_uri = :u"),
            {"u": "file:///m/c.mkv"},
        ).one()
        assert stored.created_at == stored.updated_at == "2026-01-02 03:04:05.678901"
        marked = conn.execute(
            text("select missing_since from assets where source_uri = 'file:///m/a.mkv'")
        ).scalar_one()
        assert marked == "2026-01-02 03:04:05.678901"


def test_the_stored_index_reads_the_same_on_both_backends(engine):
    """``load_asset_index`` reads on the driver's cursor: each id comes back as the database's
    own text of it, ``missing`` as 0/1, and the index tells a listed token or path apart from
    the stored one."""
    cid, index = _two_assets(engine)
    a, b = index.positions["file:///m/a.mkv"], index.positions["file:///m/b.mkv"]
    assert (index.missing[a], index.missing[b]) == (0, 1) and index.present() == 1
    with engine.connect() as conn:
        stored = conn.execute(
            select(Asset.c.id, cast(Asset.c.id, String)).where(Asset.c.collection_id == cid)
        )
        as_text = {str(row[0]): row[1] for row in stored}
    assert index.id_at(a) == as_text[str(uuid.UUID(index.id_at(a)))]
    assert index.change_of("file:///m/a.mkv", "1:1", "/m/a.mkv") is None
    assert index.change_of("file:///m/a.mkv", "1:2", "/m/a.mkv") == "content"
    assert index.change_of("file:///m/a.mkv", "1:1", "/n/a.mkv") == "remap"
    assert index.change_of("file:///m/c.mkv", "1:1", "/m/c.mkv") == "created"


def test_the_stored_fingerprint_is_in_code_point_order_on_both_backends(engine):
    """A saved plan's digest of the stored rows is read in ``source_uri`` order straight from
    the database (never holding the rows); that order is Python's (code points), not the
    server's collation, which sorts 'a' before 'B' and ignores the '_' (PostgreSQL's locales)."""
    from retrovue.fingerprint import AssetDigest
    from retrovue.observe.db import asset_fingerprint, load_asset_index

    names = ("a", "B", "_x", "é", "z", "Ä")
    cid, _ = _stored_assets(engine, names, gone=("z",))
    rows = sorted((f"file:///m/{n}.mkv", None, "1:1", f"/m/{n}.mkv", int(n == "z")) for n in names)
    expected = AssetDigest()
    expected.update(rows)
    with engine.connect() as conn:
        streamed = asset_fingerprint(conn, cid)
        index, with_index = load_asset_index(conn, cid, fingerprint=True)
    assert streamed == with_index == expected.hexdigest()
    assert len(index) == len(names)


def test_new_asset_ids_are_random_version_4_uuids():
    from itertools import islice

    from retrovue.execute.bulk import random_ids

    ids = list(islice(random_ids(), 10_000))  # more than one block of randomness
    assert len(set(ids)) == len(ids)
    for text in ids[:50] + ids[-50:]:
        parsed = uuid.UUID(hex=text)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, text)


def test_write_diff_completes_new_items_as_it_writes_them(engine):
    """The diff leaves new items as listed; write_diff describes each as its row is built and
    drops the spilled items once written, keeping their number (the counts) as it was."""
    from retrovue.diff.assets import AssetDiff, new_items
    from retrovue.execute.ingest import write_diff

    cid, _index = _two_assets(engine)
    listed = [UpstreamAsset(f"file:///m/n{i}.mkv", f"/m/n{i}.mkv", 1, "1:1") for i in range(3)]
    diff = AssetDiff(new=new_items())
    diff.new.extend((item, item.path) for item in listed)
    with engine.begin() as conn:
        write_diff(conn, cid, diff, datetime.now(UTC), lambda i: i._replace(title="T" + i.path))
    assert list(diff.new) == [] and diff.counts().new == 3
    with engine.connect() as conn:
        titles = conn.execute(select(Asset.c.title).where(Asset.c.source_uri.like("%/n%")))
        assert sorted(titles.scalars()) == ["T/m/n0.mkv", "T/m/n1.mkv", "T/m/n2.mkv"]
