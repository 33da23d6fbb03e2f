"""Plex sources through plan/apply against the fake Plex server (issue 3, DESIGN §7, §9)."""

import json

import pytest
import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset, Collection, PathMapping
from tests.imperative_helpers import add_plex

TOKEN_ENV = "TEST_PLEX_TOKEN"


@pytest.fixture
def plex_library(fake_plex, tmp_path):
    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    for i in range(30):
        fake_plex.add_movie(movies, f"Film {i:02d}", year=1950 + i)
    shows = fake_plex.add_section("2", "TV Shows", "show", ["/data/TV", "/archive/TV"])
    fake_plex.add_show(shows, "Space Patrol", {1: 10, 2: 5})
    fake_plex.add_section("3", "Music", "artist", ["/data/Music"])
    local_movies = tmp_path / "nas" / "Movies"
    local_movies.mkdir(parents=True)
    local_tv = tmp_path / "nas" / "TV"
    local_tv.mkdir(parents=True)
    return fake_plex, local_movies, local_tv


def plex_config(tmp_path, plex, collections, name="Living Room Plex"):
    doc = {
        "version": 1,
        "sources": [
            {
                "name": name,
                "type": "plex",
                "config": {"base_url": plex.url, "token": "${" + TOKEN_ENV + "}"},
                "collections": collections,
            }
        ],
    }
    path = tmp_path / "retrovue.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def env(plex):
    return {TOKEN_ENV: plex.token}


def test_discovery_mappings_and_ingest(rv, db_url, engine, tmp_path, plex_library):
    plex, local_movies, _ = plex_library
    config = plex_config(
        tmp_path,
        plex,
        [
            {
                "name": "Movies",
                "sync": True,
                "path_mappings": [{"plex_path": "/data/Movies", "local_path": str(local_movies)}],
            }
        ],
    )
    plan = rv("plan", "-c", config, db=db_url, env=env(plex))
    assert plan.code == 0, plan.err
    assert '+ collection "Movies" discovered' in plan.out
    assert '+ collection "TV Shows" discovered' in plan.out
    assert 'collection "Music"' not in plan.out  # only movie and show sections are collections
    # … and the text plan says why the other one is not
    assert "not a collection: section type 'artist' is not ingested (1, e.g. Music)" in plan.out
    skipped = rv("plan", "-c", config, "--json", db=db_url, env=env(plex)).json()[
        "skipped_collections"
    ]
    assert skipped == [
        {
            "source": "Living Room Plex",
            "external_id": "3",
            "name": "Music",
            "reason": "section type 'artist' is not ingested",
        }
    ]
    assert "~ assets: +30 ~0 -0 =0, 0 duplicates" in plan.out
    assert f"mapping /data/Movies -> {local_movies} (exists)" in plan.out
    assert (
        "no path mapping covers location '/data/TV'" in plan.out or "/data/TV" in plan.out
    )  # TV not ingestible
    assert plex.token not in plan.out + plan.err

    applied = rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex))
    assert applied.code == 0, applied.err
    with engine.connect() as conn:
        mappings = conn.execute(
            select(Collection.c.name, PathMapping.c.upstream_path, PathMapping.c.local_path)
            .join(PathMapping, PathMapping.c.collection_id == Collection.c.id)
            .order_by(Collection.c.name, PathMapping.c.upstream_path)
        ).all()
        rows = conn.execute(
            select(Asset.c.source_uri, Asset.c.canonical_uri, Asset.c.kind, Asset.c.year)
        ).all()
        colls = {c.name: c for c in conn.execute(select(Collection))}
    # G-6: one mapping per section location, local_path NULL until set
    assert [tuple(m) for m in mappings] == [
        ("Movies", "/data/Movies", str(local_movies)),
        ("TV Shows", "/archive/TV", None),
        ("TV Shows", "/data/TV", None),
    ]
    assert colls["Movies"].ingestible and not colls["TV Shows"].ingestible
    assert len(rows) == 30
    assert all(
        r.source_uri.startswith("plex://") and r.canonical_uri.startswith(str(local_movies))
        for r in rows
    )
    assert rv("plan", "-c", config, "--detailed-exitcode", db=db_url, env=env(plex)).code == 0


def test_rename_in_plex_is_drift_updated_in_place(rv, db_url, engine, tmp_path, plex_library):
    plex, local_movies, _ = plex_library
    config = plex_config(tmp_path, plex, [])
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    plex.sections["1"].title = "Films"
    plan = rv("plan", "-c", config, db=db_url, env=env(plex))
    assert '~ name: "Movies" -> "Films" (renamed upstream)' in plan.out
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    with engine.connect() as conn:
        assert sorted(conn.execute(select(Collection.c.name)).scalars()) == ["Films", "TV Shows"]


def test_unmapped_files_are_skipped_and_counted(rv, db_url, engine, tmp_path, plex_library):
    plex, local_movies, local_tv = plex_library
    config = plex_config(
        tmp_path,
        plex,
        [
            {
                "name": "TV Shows",
                "sync": True,
                "path_mappings": [
                    {"plex_path": "/data/TV", "local_path": str(local_tv)},
                    {"plex_path": "/archive/TV", "local_path": str(local_tv)},
                ],
            }
        ],
    )
    # one episode lives outside every mapping (a server-side symlink, say)
    show = plex.sections["2"].items[0]
    show.children[0].children[0].media[0].parts[0].file = "/elsewhere/ep.mkv"
    result = rv("plan", "-c", config, "--json", db=db_url, env=env(plex))
    doc = json.loads(result.out)
    ingest = next(a for a in doc["actions"] if a["kind"] == "ingest_collection")
    assert (ingest["counts"]["new"], ingest["counts"]["unmapped"]) == (14, 1)
    assert ingest["skipped_reasons"] == [
        {"reason": "no path mapping covers the file", "count": 1, "example": "/elsewhere/ep.mkv"}
    ]
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    with engine.connect() as conn:
        canon = conn.execute(select(Asset.c.canonical_uri)).scalars().all()
    assert len(canon) == 14 and not any(
        c.startswith("/elsewhere") for c in canon
    )  # never a server path


def test_mapping_outside_section_locations_is_an_error(rv, db_url, tmp_path, plex_library):
    plex, local_movies, _ = plex_library
    config = plex_config(
        tmp_path,
        plex,
        [
            {
                "name": "Movies",
                "path_mappings": [{"plex_path": "/data/Moviez", "local_path": str(local_movies)}],
            }
        ],
    )
    result = rv("plan", "-c", config, db=db_url, env=env(plex))
    assert result.code == 1
    assert "plex_path '/data/Moviez' is outside every location of collection 'Movies'" in result.err


def test_bad_token_exits_1_naming_the_server_not_the_token(rv, db_url, tmp_path, plex_library):
    plex, _, _ = plex_library
    config = plex_config(tmp_path, plex, [])
    result = rv("plan", "-c", config, db=db_url, env={TOKEN_ENV: "wrong-token-abcdef"})
    assert result.code == 1
    assert '! source "Living Room Plex": auth:' in result.out
    assert plex.url.split("//")[1] in result.out
    assert "wrong-token-abcdef" not in result.out + result.err


def test_unreachable_server_exits_3(rv, db_url, tmp_path, plex_library):
    plex, _, _ = plex_library
    config = plex_config(tmp_path, plex, [])
    plex.stop()
    result = rv("plan", "-c", config, db=db_url, env=env(plex))
    assert result.code == 3
    assert "unreachable" in result.out


def test_mid_listing_500_fails_that_collection_only(
    rv, db_url, engine, tmp_path, plex_library, monkeypatch
):
    plex, local_movies, local_tv = plex_library
    monkeypatch.setenv(TOKEN_ENV, plex.token)  # the executor reads the stored ${VAR} reference
    config = plex_config(
        tmp_path,
        plex,
        [
            {
                "name": "Movies",
                "sync": True,
                "path_mappings": [{"plex_path": "/data/Movies", "local_path": str(local_movies)}],
            },
            {
                "name": "TV Shows",
                "sync": True,
                "path_mappings": [
                    {"plex_path": "/data/TV", "local_path": str(local_tv)},
                    {"plex_path": "/archive/TV", "local_path": str(local_tv)},
                ],
            },
        ],
    )
    from retrovue.config.validate import load_config
    from retrovue.execute.executor import Executor
    from retrovue.importers.registry import load_registry
    from tests.helpers import plan_on

    registry = load_registry()
    desired = load_config(config, registry, env(plex))
    plan = plan_on(engine, desired, registry)
    # fail the TV listing: every request from now on to the show section's /all answers 500
    plex.fail_after = len(plex.log) + 3  # source changes need none; Movies' listing takes ~3
    plex.fail_status = 500
    result = Executor(engine, registry).execute(plan)
    statuses = {i.collection.name: i.status for i in result.ingests}
    assert statuses["TV Shows"] == "failed"
    with engine.connect() as conn:
        by_coll = conn.execute(
            select(Collection.c.name, Asset.c.id).join(
                Asset, Asset.c.collection_id == Collection.c.id
            )
        ).all()
    assert {name for name, _ in by_coll} <= {"Movies"}  # no partial TV collection
    assert plex.token not in json.dumps([i.message for i in result.ingests])


def _movies_config(tmp_path, plex, local_movies):
    return plex_config(
        tmp_path,
        plex,
        [
            {
                "name": "Movies",
                "sync": True,
                "path_mappings": [{"plex_path": "/data/Movies", "local_path": str(local_movies)}],
            }
        ],
    )


def test_incremental_reingest_costs_no_request_per_unchanged_item(
    rv, db_url, engine, tmp_path, plex_library
):
    plex, local_movies, _ = plex_library
    config = _movies_config(tmp_path, plex, local_movies)
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    movies = plex.sections["1"]
    movies.items[0].attrs["updatedAt"] += 60  # changed (re-analysed in Plex)
    removed = movies.items.pop(1)  # removed from Plex
    plex.add_movie(movies, "Brand New", year=2024)  # added
    plex.log.clear()
    plan = rv("plan", "-c", config, db=db_url, env=env(plex))
    assert "~ assets: +1 ~1 -1 =28, 0 duplicates" in plan.out
    listing = plex.requests_to(r"/library/sections/1/all")
    assert len(listing) == 1  # 30 items, one page: one listing request, nothing per item
    assert plex.requests_to(r"/library/metadata/.*") == []
    assert len(plex.log) <= 4  # root, sections, the listing, (a count)
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    with engine.connect() as conn:
        rows = {r.source_uri: r for r in conn.execute(select(Asset))}
    assert rows[f"plex://{removed.rating_key}"].missing_since is not None
    assert sum(r.missing_since is None for r in rows.values()) == 30


def test_surgical_ingest_by_title_never_marks_missing(rv, db_url, engine, tmp_path, plex_library):
    plex, local_movies, local_tv = plex_library
    config = plex_config(
        tmp_path,
        plex,
        [
            {
                "name": "TV Shows",
                "sync": True,
                "path_mappings": [
                    {"plex_path": "/data/TV", "local_path": str(local_tv)},
                    {"plex_path": "/archive/TV", "local_path": str(local_tv)},
                ],
            }
        ],
    )
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    plex.add_show(plex.sections["2"], "Moon Base", {1: 3})
    plex.sections["2"].items[0].children[1].children.pop()  # a Space Patrol episode disappears
    result = rv(
        "collection",
        "ingest",
        "TV Shows",
        "--title",
        "moon base",
        "--season",
        "1",
        "--json",
        db=db_url,
        env=env(plex),  # the stored token is the ${VAR} reference, read at run time
    )
    assert result.code == 0, result.err
    stats = result.json()["stats"]
    assert (stats["assets_ingested"], stats["assets_missing"]) == (3, 0)
    with engine.connect() as conn:
        series = conn.execute(select(Asset.c.series_title, Asset.c.missing_since)).all()
    assert sum(s == "Moon Base" for s, _ in series) == 3
    assert all(m is None for _, m in series)  # a narrowed ingest marks nothing missing


def test_rediscovery_adds_new_locations_without_rewriting_existing_rows(
    rv, db_url, engine, tmp_path, plex_library
):
    """SD D-4 / SCG G-6: a location added upstream gets a NULL row; existing rows keep their ids."""
    plex, local_movies, _ = plex_library
    add_plex(rv, db_url, plex.url, plex.token)
    assert (
        rv("collection", "update", "Movies", "--path-mapping", str(local_movies), db=db_url).code
        == 0
    )

    def rows():
        with engine.connect() as conn:
            return {
                r.upstream_path: (r.id, r.local_path, r.created_at)
                for r in conn.execute(
                    select(PathMapping)
                    .join(Collection, Collection.c.id == PathMapping.c.collection_id)
                    .where(Collection.c.name == "Movies")
                )
            }

    before = rows()
    plex.sections["1"].locations.append("/data/MoreMovies")
    assert rv("source", "discover", "P", db=db_url).code == 0
    after = rows()
    assert after["/data/Movies"] == before["/data/Movies"]  # same row, same id, same local_path
    assert after["/data/MoreMovies"][1] is None  # the new location, unmapped


def test_short_listing_at_apply_time_leaves_no_partial_collection(
    rv, db_url, engine, tmp_path, plex_library, monkeypatch
):
    """A server whose totalSize promises more than it delivers fails the collection (no short list)."""
    plex, local_movies, _ = plex_library
    monkeypatch.setenv(TOKEN_ENV, plex.token)  # the executor reads the stored ${VAR} reference
    config = _movies_config(tmp_path, plex, local_movies)
    from retrovue.config.validate import load_config
    from retrovue.execute.executor import Executor
    from retrovue.importers.registry import load_registry
    from tests.helpers import plan_on

    registry = load_registry()
    plan = plan_on(engine, load_config(config, registry, env(plex)), registry)
    plex.phantom_items = 5
    result = Executor(engine, registry).execute(plan)
    (movies,) = result.ingests
    assert movies.status == "failed" and movies.code == "UPSTREAM_ERROR"
    with engine.connect() as conn:
        assert conn.execute(select(Asset.c.id)).all() == []


def test_a_collection_whose_files_are_all_unmapped_shows_why_in_plan_and_apply(
    rv, db_url, fake_plex, tmp_path
):
    """Issue 19, item 5: a section whose Location does not cover its items' files showed
    "assets: 0 to create" and apply said nothing of it; only --json held `unmapped: 2`."""
    section = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    for title in ("Heat", "Ran"):
        fake_plex.add_movie(section, title, versions=[[f"/elsewhere/{title}.mkv"]])
    local = tmp_path / "nas" / "Movies"
    local.mkdir(parents=True)
    mappings = [{"plex_path": "/data/Movies", "local_path": str(local)}]
    config = plex_config(
        tmp_path, fake_plex, [{"name": "Movies", "sync": True, "path_mappings": mappings}]
    )
    why = "skipped: no path mapping covers the file (2, e.g. /elsewhere/"
    plan = rv("plan", "-c", config, db=db_url, env=env(fake_plex))
    assert plan.code == 0, plan.err
    assert why in plan.out
    applied = rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex))
    assert applied.code == 0, applied.err
    assert (
        why in applied.out.split('collection "Living Room Plex"/"Movies": nothing to write', 1)[1]
    )
