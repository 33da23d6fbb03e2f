"""Real Plex upstreams (issue 19): responses captured from real servers, served by the fake.

The listings in ``tests/fixtures/plex/`` (sources in its README.md) hold shapes nobody here
wrote: a 2012 server whose multi-part films have Parts without ``id``, ``\\\\host\\share`` files
under ``//host/share`` Locations, a Windows server's ``M:\\`` drive with the versions Plex
optimized for mobile and TV, and a 2016 film in two real versions.  Every listed file ends as an
asset or as a counted, named skip reason.
"""

from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset, Collection
from tests.fakeplex import FakePlex, captured

TOKEN_ENV = "TEST_PLEX_TOKEN"
#: the skip reasons as the plan shows them
TRASHED = "in the Plex trash (deleted, or its file is gone; the trash is not emptied yet)"
GENERATED_VERSION = "a version Plex generated (Optimize/Convert), not library content"


def write_config(tmp_path, plex: FakePlex, collections: list[dict], **plex_config) -> str:
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Real Plex",
                "type": "plex",
                "config": {"base_url": plex.url, "token": "${" + TOKEN_ENV + "}", **plex_config},
                "collections": collections,
            }
        ],
    }
    path = tmp_path / "retrovue.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def synced(name: str, *mappings: tuple[str, object]) -> dict:
    return {
        "name": name,
        "sync": True,
        "path_mappings": [{"plex_path": p, "local_path": str(local)} for p, local in mappings],
    }


def env(plex: FakePlex) -> dict:
    return {TOKEN_ENV: plex.token}


def ingest_of(plan_json: dict) -> dict:
    (ingest,) = [a for a in plan_json["actions"] if a["kind"] == "ingest_collection"]
    return ingest


def stored_assets(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                Asset.c.source_uri,
                Asset.c.canonical_uri,
                Asset.c.change_token,
                Asset.c.metadata,
                Asset.c.missing_since,
            )
        ).all()
    return {r.source_uri: r for r in rows}


def local_dirs(tmp_path, *names: str):
    made = []
    for name in names:
        path = tmp_path / "nas" / name
        path.mkdir(parents=True)
        made.append(path)
    return made


# ----- 1. multi-part items: one asset per file, never "duplicates" ----------------------------
@pytest.fixture
def server_2012(fake_plex, tmp_path):
    """The 2012 capture: 102 films, 113 files, no Part ``id`` anywhere.  Its files live on
    ``\\\\GIMMICKY-SERVER\\Videos``; the section's Locations name that share with forward
    slashes, as the capture's own sections answer spells its Locations (``//MY-SERVER/…``)."""
    movies = fake_plex.add_section(
        "1",
        "Movies",
        "movie",
        ["//GIMMICKY-SERVER/Videos/Movies", "//GIMMICKY-SERVER/Videos/Anime/Movies"],
    )
    fake_plex.load_items(movies, captured("nweber-2012-movies.xml"))
    (videos,) = local_dirs(tmp_path, "Videos")
    (videos / "Movies").mkdir()
    (videos / "Anime" / "Movies").mkdir(parents=True)
    config = write_config(
        tmp_path, fake_plex, [synced("Movies", ("//GIMMICKY-SERVER/Videos", videos))]
    )
    return fake_plex, config, videos


def test_parts_without_ids_are_one_asset_each_not_duplicates(rv, db_url, engine, server_2012):
    plex, config, videos = server_2012
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env(plex))
    assert planned.code == 0, planned.err
    counts = ingest_of(planned.json())["counts"]
    assert (counts["new"], counts["duplicates"], counts["unmapped"]) == (113, 0, 0)
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0

    assets = stored_assets(engine)
    assert len(assets) == 113
    genius_party = sorted(
        (uri for uri in assets if uri.startswith("plex://164/")), key=lambda u: int(u[11:])
    )
    # the part id an old server leaves out of the attributes is still in the Part's key
    assert genius_party == [f"plex://164/{part}" for part in range(154, 161)]
    pt7 = assets["plex://164/160"]
    assert pt7.canonical_uri == str(
        videos / "Anime" / "Movies" / "Genius Party" / "Genius Party - pt7.mkv"
    )
    assert pt7.metadata["version"] == {
        "index": 1,
        "of": 1,
        "resolution": "480",
        "bit_rate": 1_583_000,
        "part": 7,
        "parts": 7,
    }
    assert not any("None" in uri or ":None:" in a.change_token for uri, a in assets.items())
    # a single-file film keeps the identity single files always had
    assert "plex://1877" in assets
    assert rv("plan", "-c", config, "--detailed-exitcode", db=db_url, env=env(plex)).code == 0


def test_a_part_with_neither_id_nor_key_is_identified_by_its_position(fake_plex):
    """Rating key plus part position when a server gives a part no id in any form."""
    from retrovue.importers.plex import PlexImporter

    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    film = fake_plex.add_movie(
        movies, "Shoah", versions=[["/data/Movies/Shoah/cd1.avi", "/data/Movies/Shoah/cd2.avi"]]
    )
    for part in film.media[0].parts:
        part.attrs.update(id=None, key=None)  # None leaves the attribute out
    imp = PlexImporter({"base_url": fake_plex.url, "token": fake_plex.token})
    assets = list(imp.fetch_assets_for_collection("1"))
    rk = film.rating_key
    assert [a.source_uri for a in assets] == [f"plex://{rk}/part-1", f"plex://{rk}/part-2"]
    assert [a.change_token.split(":")[1] for a in assets] == ["", ""]


def test_an_item_without_a_file_is_a_counted_skip_too(fake_plex):
    from retrovue.importers.plex import NO_FILE, PlexImporter
    from retrovue.model.upstream import NOT_OFFERED

    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    bare = fake_plex.add_movie(movies, "No Media")
    bare.media.clear()
    fileless = fake_plex.add_movie(movies, "No File")
    fileless.media[0].parts[0].attrs["file"] = None
    imp = PlexImporter({"base_url": fake_plex.url, "token": fake_plex.token})
    assert [(a.kind, a.problem, a.path) for a in imp.fetch_assets_for_collection("1")] == [
        (NOT_OFFERED, NO_FILE, f"No Media (ratingKey {bare.rating_key})"),
        (NOT_OFFERED, NO_FILE, f"No File (ratingKey {fileless.rating_key})"),
    ]


# ----- 2. versions Plex generated are skipped; every asset says which version it is -----------
@pytest.fixture
def server_2024(fake_plex, tmp_path):
    """A Windows server (``M:\\Media\\Movies``): four films, three of them with versions Plex
    optimized for mobile or TV under ``…\\Plex Versions\\``."""
    sections = fake_plex.load_sections(captured("plexopedia-2021-sections.xml"))
    movies = next(s for s in sections if s.title == "Movies")
    fake_plex.load_items(movies, captured("plexopedia-2024-movies.xml"))
    (local,) = local_dirs(tmp_path, "Movies")
    return fake_plex, local


def test_generated_versions_are_a_counted_skip_not_assets(
    rv, db_url, engine, tmp_path, server_2024
):
    plex, local = server_2024
    config = write_config(tmp_path, plex, [synced("Movies", ("M:\\Media\\Movies", local))])
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env(plex))
    assert planned.code == 0, planned.err
    ingest = ingest_of(planned.json())
    assert ingest["counts"]["new"] == 4
    brave_mobile = (
        "M:\\Media\\Movies\\Brave (2012)\\Plex Versions\\Optimized for Mobile\\Brave (2012).mp4"
    )
    assert ingest["skipped_reasons"] == [
        {"reason": GENERATED_VERSION, "count": 4, "example": brave_mobile}
    ]
    text = rv("plan", "-c", config, db=db_url, env=env(plex)).out
    assert f"skipped: {GENERATED_VERSION} (4, e.g. {brave_mobile})" in text

    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    assets = stored_assets(engine)
    # an optimized copy is no second version: the original keeps a single file's identity
    assert sorted(assets) == ["plex://1416", "plex://214970", "plex://217704", "plex://65437"]
    assert not any("Plex Versions" in a.canonical_uri for a in assets.values())
    assert assets["plex://65437"].metadata["version"] == {
        "index": 1,
        "of": 2,
        "title": "Original",
        "resolution": "1080",
        "bit_rate": 4_292_000,
    }


def test_generated_versions_are_ingested_when_asked_and_marked(
    rv, db_url, engine, tmp_path, server_2024
):
    plex, local = server_2024
    config = write_config(
        tmp_path,
        plex,
        [synced("Movies", ("M:\\Media\\Movies", local))],
        include_generated_versions=True,
    )
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    assets = stored_assets(engine)
    assert len(assets) == 8
    mobile = assets["plex://217704/277333"].metadata["version"]
    assert mobile == {
        "index": 3,
        "of": 3,
        "title": "Optimized for Mobile",
        "target": "Optimized for Mobile",
        "resolution": "720",
        "bit_rate": 3_122_000,
        "generated": True,
    }


def test_two_real_versions_of_a_film_are_two_assets_told_apart(
    rv, db_url, engine, fake_plex, tmp_path
):
    """The 2016 capture: The Revenant as a 720p and an SD file, both added by the owner."""
    movies = fake_plex.add_section("2", "Movies", "movie", ["/movies"])
    fake_plex.load_items(movies, captured("plexdevices-2016-movies.xml"))
    (local,) = local_dirs(tmp_path, "movies")
    config = write_config(tmp_path, fake_plex, [synced("Movies", ("/movies", local))])
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env(fake_plex))
    assert ingest_of(planned.json())["skipped_reasons"] == []
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex)).code == 0
    assets = stored_assets(engine)
    assert len(assets) == 17
    hd, sd = (assets[f"plex://32730/{part}"].metadata["version"] for part in (75494, 41368))
    assert (hd["index"], hd["resolution"], hd["bit_rate"]) == (1, "720", 7_006_000)
    assert (sd["index"], sd["resolution"], sd["bit_rate"]) == (2, "sd", 1_987_000)
    assert hd["of"] == sd["of"] == 2


# ----- 3. items in the trash are not offered -----------------------------------------------------
@pytest.fixture
def server_2016(fake_plex, tmp_path):
    movies = fake_plex.add_section("2", "Movies", "movie", ["/movies"])
    items = {
        i.attrs["title"]: i
        for i in fake_plex.load_items(movies, captured("plexdevices-2016-movies.xml"))
    }
    (local,) = local_dirs(tmp_path, "movies")
    config = write_config(tmp_path, fake_plex, [synced("Movies", ("/movies", local))])
    return fake_plex, items, config


def test_a_trashed_item_goes_missing_and_is_counted(rv, db_url, engine, server_2016):
    plex, items, config = server_2016
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    plex.trash(items["Deadpool"])
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env(plex))
    ingest = ingest_of(planned.json())
    assert (ingest["counts"]["missing"], ingest["counts"]["unchanged"]) == (1, 16)
    deadpool = "/movies/Deadpool (2016)/Deadpool.mkv"
    assert ingest["skipped_reasons"] == [{"reason": TRASHED, "count": 1, "example": deadpool}]
    assert (
        f"skipped: {TRASHED} (1, e.g. {deadpool})"
        in rv("plan", "-c", config, db=db_url, env=env(plex)).out
    )
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    missing = [uri for uri, a in stored_assets(engine).items() if a.missing_since is not None]
    assert missing == ["plex://55712"]


def test_trashing_much_of_a_library_is_held_by_the_mass_missing_guard(
    rv, db_url, engine, server_2016
):
    plex, items, config = server_2016
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    for title in ("Deadpool", "Creed", "Krampus", "Legend", "Spectre"):
        plex.trash(items[title])
    ingest = ingest_of(rv("plan", "-c", config, "--json", db=db_url, env=env(plex)).json())
    assert ingest["degraded"] and ingest["counts"]["missing_suppressed"] == 5
    assert ingest["skipped_reasons"][0]["count"] == 5
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    assert not any(a.missing_since for a in stored_assets(engine).values())


def test_a_trashed_item_is_never_created(rv, db_url, engine, server_2016):
    plex, items, config = server_2016
    plex.trash(items["The Revenant"])  # both of its versions
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(plex)).code == 0
    assert len(stored_assets(engine)) == 15


# ----- 4. a share is the same whichever slash spells it; a bare drive covers the drive ----------
def test_a_unc_mapping_covers_the_other_spelling(rv, db_url, engine, fake_plex, tmp_path):
    """The captured 2012 episode lives at ``\\\\GIMMICKY-SERVER\\Videos\\TV\\…``; the mapping
    is written ``//GIMMICKY-SERVER/Videos/TV`` (as that server spells its Locations)."""
    tv = fake_plex.add_section("2", "TV Shows", "show", ["\\\\GIMMICKY-SERVER\\Videos\\TV"])
    fake_plex.load_items(tv, captured("nweber-2012-episode.xml"))
    (local,) = local_dirs(tmp_path, "TV")
    config = write_config(
        tmp_path, fake_plex, [synced("TV Shows", ("//gimmicky-server/Videos/TV", local))]
    )
    planned = rv("plan", "-c", config, db=db_url, env=env(fake_plex))
    assert planned.code == 0, planned.err
    assert "outside every location" not in planned.out + planned.err
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex)).code == 0
    (episode,) = stored_assets(engine).values()
    assert episode.canonical_uri == str(
        local
        / "Whose Line Is It Anyway"
        / "Season 1"
        / "Whose.Line.is.it.Anyway.US.01x01.(103).DVDRip-XviD-RA.avi"
    )


def ingestible_after(plan_json: dict) -> dict[str, bool]:
    return {
        a["collection"]["external_id"]: a["after"]
        for a in plan_json["actions"]
        if a["kind"] == "set_ingestible"
    }


def test_a_backslash_mapping_covers_a_forward_slash_location(rv, db_url, fake_plex, tmp_path):
    """The 2012 sections answer spells its Locations ``//MY-SERVER/Videos/…``."""
    fake_plex.load_sections(captured("nweber-2012-sections.xml"))
    (share,) = local_dirs(tmp_path, "share")
    (share / "Movies").mkdir()
    config = write_config(tmp_path, fake_plex, [synced("Movies", ("\\\\my-server\\VIDEOS", share))])
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env(fake_plex))
    assert planned.code == 0, planned.err
    assert ingestible_after(planned.json()) == {"1": True, "2": False}  # "3" is music


def test_a_bare_drive_mapping_covers_the_drive(rv, db_url, engine, fake_plex, tmp_path):
    """The Windows server's ``M:\\Media\\Movies``, mapped by its drive alone."""
    sections = fake_plex.load_sections(captured("plexopedia-2021-sections.xml"))
    fake_plex.load_items(sections[0], captured("plexopedia-2024-movies.xml"))
    (drive,) = local_dirs(tmp_path, "m")
    (drive / "Media" / "Movies").mkdir(parents=True)
    config = write_config(tmp_path, fake_plex, [synced("Movies", ("M:", drive))])
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env(fake_plex))
    assert planned.code == 0, planned.err
    assert ingestible_after(planned.json())["2"] is True
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex)).code == 0
    assert stored_assets(engine)["plex://1416"].canonical_uri == str(
        drive
        / "Media"
        / "Movies"
        / "Avatar (2009)"
        / "Avatar (2009) [1080p h.264][AAC DTS DTS-HD].mkv"
    )


# ----- 6. a long section title is stored shortened, never dropped --------------------------------
LONG_TITLE = "A Very Long Section Title " * 12  # 312 characters


def test_a_long_section_title_is_stored_shortened_with_the_full_name_kept(
    rv, db_url, engine, fake_plex, tmp_path
):
    fake_plex.add_section("2", LONG_TITLE, "show", ["/data/TV"])
    config = write_config(tmp_path, fake_plex, [])
    planned = rv("plan", "-c", config, "--json", db=db_url, env=env(fake_plex))
    assert planned.code == 0, planned.err
    assert planned.json()["skipped_collections"] == []
    text = rv("plan", "-c", config, db=db_url, env=env(fake_plex)).out
    assert "! upstream name is 312 characters" in text
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex)).code == 0
    with engine.connect() as conn:
        (row,) = conn.execute(select(Collection.c.name, Collection.c.config)).all()
    assert len(row.name) == 255 and row.name.startswith(LONG_TITLE[:200])
    assert row.config == {"upstream_name": LONG_TITLE}
    assert rv("plan", "-c", config, "--detailed-exitcode", db=db_url, env=env(fake_plex)).code == 0

    renamed = LONG_TITLE.replace("Very", "Much")  # another long title: renamed, full name follows
    fake_plex.sections["2"].title = renamed
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex)).code == 0
    with engine.connect() as conn:
        (row,) = conn.execute(select(Collection.c.name, Collection.c.config)).all()
    assert row.name.startswith("A Much Long") and row.config == {"upstream_name": renamed}


# ----- 7. collection show prints a Location as text -----------------------------------------------
def test_collection_show_prints_a_windows_location_as_text(rv, db_url, fake_plex, tmp_path):
    fake_plex.load_sections(captured("plexopedia-2021-sections.xml"))
    config = write_config(tmp_path, fake_plex, [])
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env(fake_plex)).code == 0
    shown = rv("collection", "show", "Movies", db=db_url, env=env(fake_plex))
    assert shown.code == 0, shown.err
    assert "covers the Plex location(s) 'M:\\Media\\Movies'" in shown.out
    assert "M:\\\\Media" not in shown.out


# ----- what the captured listings produce, per skip reason ---------------------------------------
@pytest.mark.parametrize(
    "capture, assets, skipped",
    [
        ("nweber-2012-movies.xml", 113, {}),
        ("nweber-2012-episode.xml", 1, {}),
        ("plexdevices-2016-movies.xml", 17, {}),
        ("plexdevices-2016-hub-search.xml", 4, {}),
        ("plexopedia-2024-movies.xml", 4, {GENERATED_VERSION: 4}),
    ],
)
def test_what_each_captured_listing_becomes(fake_plex, capture, assets, skipped):
    from retrovue.importers.plex import PlexImporter

    section = fake_plex.add_section("1", "Mixed", "movie", ["/"])
    loaded = fake_plex.load_items(section, captured(capture))
    if loaded[0].type == "episode":
        section.type = "show"
    imp = PlexImporter({"base_url": fake_plex.url, "token": fake_plex.token})
    listed = list(imp.fetch_assets_for_collection("1"))
    reasons: dict[str, int] = {}
    for item in listed:
        if item.problem is not None:
            reasons[item.problem] = reasons.get(item.problem, 0) + 1
    assert (len(listed) - sum(reasons.values()), reasons) == (assets, skipped)
    assert len({a.source_uri for a in listed}) == len(listed)  # every file its own identity
    json.dumps([a.metadata for a in listed])  # plain JSON data
