"""Jellyfin and Emby sources through the CLI against the fake server, on both database backends
(issue 23): declarative plan/apply, imperative ``source add``, ``list-types``, ``export``,
surgical ingest, and the failures an operator meets (a revoked key, a shortened listing)."""

from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset, Collection, PathMapping
from tests.fakejellyfin import FakeJellyfin
from tests.imperative_helpers import one_json

KEY_ENV = "TEST_MEDIA_SERVER_KEY"


@pytest.fixture
def library(fake_media_server: FakeJellyfin, tmp_path):
    """30 films, a show in two seasons, a music library; local folders for both video ones."""
    server = fake_media_server
    movies = server.add_library("Movies", "movies", ["/data/Movies"])
    for i in range(30):
        server.add_movie(movies, f"Film {i:02d}", year=1950 + i)
    shows = server.add_library("TV Shows", "tvshows", ["/data/TV", "/archive/TV"])
    server.add_show(shows, "Space Patrol", {1: 10, 2: 5})
    server.add_library("Music", "music", ["/data/Music"])
    local_movies, local_tv = tmp_path / "nas" / "Movies", tmp_path / "nas" / "TV"
    local_movies.mkdir(parents=True)
    local_tv.mkdir(parents=True)
    return server, local_movies, local_tv


def write_config(tmp_path, server: FakeJellyfin, collections, name="Den Server") -> str:
    doc = {
        "version": 1,
        "sources": [
            {
                "name": name,
                "type": server.flavor,
                "config": {"base_url": server.url, "api_key": "${" + KEY_ENV + "}"},
                "collections": collections,
            }
        ],
    }
    path = tmp_path / "retrovue.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def env(server: FakeJellyfin) -> dict:
    return {KEY_ENV: server.api_key}


def movies_synced(local_movies) -> list[dict]:
    mapping = {"plex_path": "/data/Movies", "local_path": str(local_movies)}
    return [{"name": "Movies", "sync": True, "path_mappings": [mapping]}]


def test_declared_source_discovers_maps_and_ingests(rv, db_url, engine, tmp_path, library):
    server, local_movies, _ = library
    config = write_config(tmp_path, server, movies_synced(local_movies))
    assert rv("validate", "-c", config, env=env(server)).code == 0
    plan = rv("plan", "-c", config, db=db_url, env=env(server))
    assert plan.code == 0, plan.err
    assert f'+ type        = "{server.flavor}"' in plan.out
    assert '+ collection "Movies" discovered' in plan.out
    assert '+ collection "TV Shows" discovered' in plan.out
    assert "not a collection: library type 'music' is not ingested (1, e.g. Music)" in plan.out
    assert "~ assets: +30 ~0 -0 =0, 0 duplicates" in plan.out
    assert server.api_key not in plan.out + plan.err

    applied = rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(server))
    assert applied.code == 0, applied.err
    with engine.connect() as conn:
        mappings = conn.execute(
            select(Collection.c.name, PathMapping.c.upstream_path, PathMapping.c.local_path)
            .join(PathMapping, PathMapping.c.collection_id == Collection.c.id)
            .order_by(Collection.c.name, PathMapping.c.upstream_path)
        ).all()
        rows = conn.execute(
            select(Asset.c.source_uri, Asset.c.canonical_uri, Asset.c.metadata)
        ).all()
        colls = {c.name: c for c in conn.execute(select(Collection))}
    assert [tuple(m) for m in mappings] == [
        ("Movies", "/data/Movies", str(local_movies)),
        ("TV Shows", "/archive/TV", None),
        ("TV Shows", "/data/TV", None),
    ]
    assert colls["Movies"].ingestible and not colls["TV Shows"].ingestible
    assert len(rows) == 30
    assert all(r.source_uri.startswith(f"{server.flavor}://") for r in rows)
    assert all(r.canonical_uri.startswith(str(local_movies)) for r in rows)
    assert all(r.metadata["media"]["video_codec"] == "h264" for r in rows)
    again = rv("plan", "-c", config, "--detailed-exitcode", db=db_url, env=env(server))
    assert again.code == 0 and "No changes." in again.out


def test_one_listing_per_library_and_no_request_per_item(rv, db_url, tmp_path, library):
    """A plan + apply of a changed library costs a constant number of requests beyond one per
    page: the apply reuses the plan's listing once the library proves unchanged."""
    server, local_movies, _ = library
    config = write_config(tmp_path, server, movies_synced(local_movies))
    server.log.clear()
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(server)).code == 0
    listing = [r for r in server.requests_to("/Items") if r.query.get("Limit") != "1"]
    assert len(listing) == 1  # 30 items, one page, read once for plan and apply
    assert len(server.log) <= 8


def test_shortened_listing_at_apply_leaves_no_partial_collection(
    rv, db_url, engine, tmp_path, library, monkeypatch
):
    server, local_movies, _ = library
    monkeypatch.setenv(KEY_ENV, server.api_key)  # the executor reads the stored ${VAR} reference
    config = write_config(tmp_path, server, movies_synced(local_movies))
    from retrovue.config.validate import load_config
    from retrovue.execute.executor import Executor
    from retrovue.importers.registry import load_registry
    from tests.helpers import plan_on

    registry = load_registry()
    plan = plan_on(engine, load_config(config, registry, env(server)), registry)
    server.phantom_items = 5
    result = Executor(engine, registry).execute(plan)
    (movies,) = result.ingests
    assert movies.status == "failed" and movies.code == "UPSTREAM_ERROR"
    assert "received 30 of the 35 items announced" in movies.message
    assert "'Movies'" in movies.message and server.url in movies.message
    with engine.connect() as conn:
        assert conn.execute(select(Asset.c.id)).all() == []


def test_a_revoked_key_exits_1_naming_the_server_not_the_key(rv, db_url, tmp_path, library):
    server, local_movies, _ = library
    config = write_config(tmp_path, server, movies_synced(local_movies))
    result = rv("plan", "-c", config, db=db_url, env={KEY_ENV: "revoked-key-abcdef"})
    assert result.code == 1
    assert '! source "Den Server": auth:' in result.out
    assert server.url.split("//")[1] in result.out and "rejected the API key" in result.out
    assert "revoked-key-abcdef" not in result.out + result.err


def test_a_server_behind_a_failing_proxy_exits_3_and_the_rest_is_planned(
    rv, db_url, tmp_path, library
):
    server, local_movies, _ = library
    config = write_config(tmp_path, server, movies_synced(local_movies))
    server.stop()
    result = rv("plan", "-c", config, db=db_url, env=env(server))
    assert result.code == 3 and "unreachable" in result.out


def test_source_add_list_types_and_export(rv, db_url, tmp_path, library):
    server, local_movies, _ = library
    added = rv(
        "source",
        "add",
        "--type",
        server.flavor,
        "--name",
        "Den",
        "--base-url",
        server.url,
        "--api-key",
        server.api_key,
        "--discover",
        "--json",
        db=db_url,
    )
    assert added.code == 0, added.err
    assert server.api_key not in added.out + added.err
    doc = one_json(added.out)
    assert doc["type"] == server.flavor
    assert rv("source", "add", "--type", server.flavor, "--help").out.count("--api-key") == 1
    shown = rv("source", "show", "Den", db=db_url)
    assert shown.code == 0 and server.api_key not in shown.out and "--api-key" not in shown.out
    rotated = rv("source", "update", "Den", "--api-key", "rotated-key-123", "--json", db=db_url)
    assert rotated.code == 0 and "rotated-key-123" not in rotated.out + rotated.err
    assert rv("source", "discover", "Den", db=db_url).code == 1  # the rotated key is refused
    assert rv("source", "update", "Den", "--api-key", server.api_key, db=db_url).code == 0

    types = {e["type"]: e for e in rv("source", "list-types", "--json").json()["source_types"]}
    required = {p["name"]: p for p in types[server.flavor]["parameters"]["required"]}
    assert types[server.flavor]["available"] is True
    assert list(required) == ["base_url", "api_key"] and required["api_key"]["sensitive"]

    mapped = rv(
        "collection", "update", "Den/Movies", "--path-mapping", str(local_movies), db=db_url
    )
    assert mapped.code == 0, mapped.err
    assert rv("collection", "update", "Den/Movies", "--sync-enable", db=db_url).code == 0
    exported = rv("export", db=db_url)
    assert exported.code == 0 and server.api_key not in exported.out
    text = exported.out
    source = yaml.safe_load(text)["sources"][0]
    assert source["type"] == server.flavor and source["config"]["api_key"] == "${DEN_API_KEY}"
    (cfg := tmp_path / "exported.yaml").write_text(text)
    plan = rv("plan", "-c", str(cfg), "--json", db=db_url, env={"DEN_API_KEY": server.api_key})
    assert plan.code == 0, plan.err
    kinds = [a["kind"] for a in plan.json()["actions"]]
    # the key stored in clear becomes the reference; only the ingest of Movies is left to do
    assert set(kinds) <= {"update_source", "ingest_collection"}, kinds


def test_surgical_ingest_by_title_never_marks_missing(rv, db_url, engine, tmp_path, library):
    server, _, local_tv = library
    mappings = [
        {"plex_path": "/data/TV", "local_path": str(local_tv)},
        {"plex_path": "/archive/TV", "local_path": str(local_tv)},
    ]
    config = write_config(
        tmp_path, server, [{"name": "TV Shows", "sync": True, "path_mappings": mappings}]
    )
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(server)).code == 0
    tv = next(lib for lib in server.libraries.values() if lib.name == "TV Shows")
    server.add_show(tv, "Moon Base", {1: 3})
    tv.items.pop(0)  # a Space Patrol episode disappears
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
        env=env(server),
    )
    assert result.code == 0, result.err
    stats = result.json()["stats"]
    assert (stats["assets_ingested"], stats["assets_missing"]) == (3, 0)
    with engine.connect() as conn:
        series = conn.execute(select(Asset.c.series_title, Asset.c.missing_since)).all()
    assert sum(s == "Moon Base" for s, _ in series) == 3
    assert all(m is None for _, m in series)


def test_items_without_a_file_and_a_unc_library_are_counted_not_lost(
    rv, db_url, engine, tmp_path, fake_media_server
):
    """A Windows server's library on a share: files map through a ``//host/share`` mapping
    whichever slashes they use; an item without a path, a placeholder and a file outside every
    mapping are each counted under their reason, and everything else is ingested."""
    server = fake_media_server
    lib = server.add_library("Films", "movies", ["\\\\NAS\\Media\\Films"])
    for i in range(5):
        server.add_movie(lib, f"Film {i}", files=[f"\\\\nas\\media\\Films\\Film {i}.mkv"])
    lost = server.add_movie(lib, "No Path")
    del lost["Path"], lost["MediaSources"]
    server.add_movie(lib, "Virtual")["LocationType"] = "Virtual"
    server.add_movie(lib, "Elsewhere", files=["E:\\Other\\x.mkv"])
    local = tmp_path / "share" / "Films"
    local.mkdir(parents=True)
    mapping = {"plex_path": "//nas/media", "local_path": str(tmp_path / "share")}
    config = write_config(
        tmp_path, server, [{"name": "Films", "sync": True, "path_mappings": [mapping]}]
    )
    result = rv("plan", "-c", config, "--json", db=db_url, env=env(server))
    assert result.code == 0, result.err
    (ingest,) = [a for a in result.json()["actions"] if a["kind"] == "ingest_collection"]
    assert (ingest["counts"]["new"], ingest["counts"]["unmapped"]) == (5, 1)
    reasons = {r["reason"]: r["count"] for r in ingest["skipped_reasons"]}
    assert reasons["the item lists no media file"] == 1
    assert (
        reasons["a placeholder the server keeps for an item it has no file of (missing or unaired)"]
        == 1
    )
    assert reasons["no path mapping covers the file"] == 1
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(server)).code == 0
    with engine.connect() as conn:
        canon = sorted(conn.execute(select(Asset.c.canonical_uri)).scalars())
    assert canon == [str(local / f"Film {i}.mkv") for i in range(5)]


def test_every_part_of_a_stacked_film_becomes_an_asset(rv, db_url, engine, tmp_path, library):
    """A film in three files (``- part1``, ``- part2``, ``- part3``): all three are planned and
    written, none counted as skipped, and a second plan finds nothing to do."""
    server, local_movies, _ = library
    movies = next(lib for lib in server.libraries.values() if lib.name == "Movies")
    folder = "/data/Movies/Shoah (1985)"
    shoah = server.add_movie(
        movies,
        "Shoah",
        year=1985,
        files=[f"{folder}/Shoah - part1.mkv"],
        parts=[f"{folder}/Shoah - part2.mkv", f"{folder}/Shoah - part3.mkv"],
    )
    config = write_config(tmp_path, server, movies_synced(local_movies))
    result = rv("plan", "-c", config, "--json", db=db_url, env=env(server))
    assert result.code == 0, result.err
    (ingest,) = [a for a in result.json()["actions"] if a["kind"] == "ingest_collection"]
    assert ingest["counts"]["new"] == 33
    assert not any("stacked" in r["reason"] for r in ingest["skipped_reasons"])
    applied = rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(server))
    assert applied.code == 0, applied.err
    with engine.connect() as conn:
        rows = conn.execute(
            select(Asset.c.source_uri, Asset.c.canonical_uri)
            .where(Asset.c.source_uri.like(f"%{shoah['Id']}%"))
            .order_by(Asset.c.canonical_uri)
        ).all()
    local = local_movies / "Shoah (1985)"
    assert [r.canonical_uri for r in rows] == [
        str(local / f"Shoah - part{n}.mkv") for n in (1, 2, 3)
    ]
    part_ids = [p["Id"] for p in server.parts[shoah["Id"]]]
    first = f"{server.flavor}://{shoah['Id']}"
    assert [r.source_uri for r in rows] == [first] + [f"{first}/part/{i}" for i in part_ids]
    again = rv("plan", "-c", config, "--detailed-exitcode", db=db_url, env=env(server))
    assert again.code == 0 and "No changes." in again.out


def test_a_library_with_overlapping_locations_counts_the_duplicate(
    rv, db_url, engine, tmp_path, fake_media_server
):
    """Locations ``/data/TV`` and ``/data/TV/Anime``: a file the server lists twice (once per
    location) is one asset and one counted duplicate."""
    server = fake_media_server
    lib = server.add_library("TV", "tvshows", ["/data/TV", "/data/TV/Anime", "/data/TV/"])
    path = "/data/TV/Anime/Mushishi/Season 01/Mushishi - S01E01.mkv"
    server.add_episode(lib, "Mushishi", 1, 1, file=path)
    server.add_episode(lib, "Mushishi", 1, 1, file=path)
    (tmp_path / "tv" / "Anime").mkdir(parents=True)
    mapping = {"plex_path": "/data/TV", "local_path": str(tmp_path / "tv")}
    config = write_config(
        tmp_path, server, [{"name": "TV", "sync": True, "path_mappings": [mapping]}]
    )
    result = rv("plan", "-c", config, "--json", db=db_url, env=env(server))
    assert result.code == 0, result.err
    (ingest,) = [a for a in result.json()["actions"] if a["kind"] == "ingest_collection"]
    assert (ingest["counts"]["new"], ingest["counts"]["duplicates"]) == (1, 1)
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(server)).code == 0
    with engine.connect() as conn:
        assert conn.execute(select(Asset.c.canonical_uri)).scalars().all() == [
            str(tmp_path / "tv" / "Anime" / "Mushishi" / "Season 01" / "Mushishi - S01E01.mkv")
        ]


def test_the_ffprobe_enricher_reads_the_listing(rv, db_url, engine, tmp_path, library):
    """The listing's media facts reach ``ffprobe`` as a Plex listing's do: no file is opened
    (the mapped files do not even exist here)."""
    server, local_movies, _ = library
    collections = movies_synced(local_movies)
    collections[0]["enrichers"] = ["ffprobe"]
    config = write_config(tmp_path, server, collections)
    applied = rv("apply", "-c", config, "--auto-approve", "--json", db=db_url, env=env(server))
    assert applied.code == 0, applied.err
    (enrichment,) = applied.json()["results"]["enrichments"]
    (counts,) = enrichment["counts"]
    assert (counts["type"], counts["enriched"], counts["from_listing"]) == ("ffprobe", 30, 30)
    with engine.connect() as conn:
        states = set(conn.execute(select(Asset.c.state)).scalars())
    assert states == {"ready"}
    assert json.dumps(applied.json()).count(server.api_key) == 0


def test_hostile_and_300_character_library_names_reach_the_plan_escaped(
    rv, db_url, engine, tmp_path, fake_media_server
):
    """A library name cannot forge a summary line or clear the screen, and one of 300
    characters is stored shortened with the server's full name kept in the collection."""
    server = fake_media_server
    forged = server.add_library("ok\n\nPlan: 0 sources to create\x1b[2J", "movies", ["/data/F"])
    server.add_movie(forged, "clip\u202eexe", files=["/data/F/clip\u202eexe.mkv"])
    long_name = "Classic Films " * 21 + "of the Thirties"
    server.add_library(long_name, "movies", ["/data/Long"])
    config = write_config(tmp_path, server, [])
    plan = rv("plan", "-c", config, db=db_url, env=env(server))
    assert plan.code == 0, plan.err
    assert "\x1b" not in plan.out and "\u202e" not in plan.out
    summaries = [line for line in plan.out.splitlines() if line.startswith("Plan: ")]
    assert len(summaries) == 1 and summaries[0].startswith("Plan: 1 source to create")
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(server)).code == 0
    with engine.connect() as conn:
        rows = {r.name: r for r in conn.execute(select(Collection.c.name, Collection.c.config))}
    assert "ok\n\nPlan: 0 sources to create\x1b[2J" in rows
    (shortened,) = [name for name in rows if name.startswith("Classic Films")]
    assert len(shortened) <= 255 and long_name in json.dumps(rows[shortened].config)
