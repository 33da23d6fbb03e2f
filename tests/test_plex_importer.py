"""PlexImporter against the fake Plex server, through the real plexapi client over HTTP."""

from __future__ import annotations

import math
import socket
import traceback

import pytest

from retrovue.errors import (
    CollectionNotFoundError,
    ImporterAuthError,
    ImporterResponseError,
    ImporterUnreachableError,
)
from retrovue.importers.base import PathMappingSpec, UpstreamCollection
from retrovue.importers.plex import PlexImporter
from tests.fakeplex import FakePlex

LISTING = r"/library/sections/\d+/all"


@pytest.fixture
def plex(fake_plex: FakePlex) -> FakePlex:
    """A small library: movies, a show section, and two section types that are not ingested."""
    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies", "/data/MoviesHD"])
    fake_plex.add_movie(movies, "Heat", year=1995)
    fake_plex.add_movie(movies, "Heat 2", year=2026)
    fake_plex.add_movie(movies, "Alien", year=1979)
    tv = fake_plex.add_section("2", "TV Shows", "show", ["/data/TV"])
    fake_plex.add_show(tv, "Lost", {1: 3, 2: 2}, year=2004)
    fake_plex.add_show(tv, "Lost Girl", {1: 2}, year=2010)
    fake_plex.add_section("3", "Music", "artist", ["/data/Music"])
    fake_plex.add_section("4", "Photos", "photo", ["/data/Photos"])
    return fake_plex


def importer(plex: FakePlex, **config) -> PlexImporter:
    return PlexImporter({"base_url": plex.url, "token": plex.token, **config})


def listing_requests(plex: FakePlex) -> int:
    return len(plex.requests_to(LISTING))


# ----- contract and discovery ------------------------------------------------------------------
def test_param_spec_marks_the_token_sensitive():
    specs = {p.name: p for p in PlexImporter.param_spec()}
    assert (specs["base_url"].kind, specs["base_url"].required) == ("url", True)
    assert (specs["verify_ssl"].default, specs["timeout"].default) == (True, 30)
    assert PlexImporter.sensitive_params() == {"token"}
    assert PlexImporter.uses_path_mappings is True


def test_verify_ssl_reaches_the_session(plex):
    imp = importer(plex, verify_ssl=False)
    imp.validate_connection()
    assert imp._server._session.verify is False


def test_lists_movie_and_show_sections_and_reports_the_skipped(plex):
    imp = importer(plex)
    collections = imp.list_collections()
    assert collections == [
        UpstreamCollection("1", "Movies", ("/data/Movies", "/data/MoviesHD"), "movie"),
        UpstreamCollection("2", "TV Shows", ("/data/TV",), "show"),
    ]
    assert imp.skipped_collections() == [
        ("3", "Music", "section type 'artist' is not ingested"),
        ("4", "Photos", "section type 'photo' is not ingested"),
    ]


def test_a_renamed_section_shows_its_new_name(plex):
    imp = importer(plex)
    assert imp.list_collections()[0].name == "Movies"
    plex.sections["1"].title = "Films"
    assert imp.list_collections()[0].name == "Films"


# ----- assets ---------------------------------------------------------------------------------
def test_episode_assets_carry_series_season_episode_and_file(plex):
    assets = list(importer(plex).fetch_assets_for_collection("2"))
    assert len(assets) == 7
    first = assets[0]
    assert (first.kind, first.series_title) == ("episode", "Lost")
    assert (first.season_number, first.episode_number) == (1, 1)
    assert (first.title, first.year, first.duration_ms) == ("Episode 1", 2004, 1_800_000)
    assert first.path == "/data/TV/Lost/Season 01/Lost - S01E01.mkv"
    assert first.source_uri == f"plex://{first.metadata['rating_key']}"
    assert first.size and first.change_token.endswith(f":{first.metadata['part_id']}:{first.size}")


def test_multi_part_and_multi_version_items_give_one_asset_per_part(plex):
    movies = plex.sections["1"]
    movie = plex.add_movie(
        movies,
        "Kill Bill",
        year=2003,
        versions=[
            ["/data/Movies/KB/cd1.mkv", "/data/Movies/KB/cd2.mkv"],
            ["/data/MoviesHD/KB/kb.mkv"],
        ],
    )
    assets = [a for a in importer(plex).fetch_assets_for_collection("1") if a.title == "Kill Bill"]
    part_ids = [p.id for m in movie.media for p in m.parts]
    assert [a.path for a in assets] == [
        "/data/Movies/KB/cd1.mkv",
        "/data/Movies/KB/cd2.mkv",
        "/data/MoviesHD/KB/kb.mkv",
    ]
    assert [a.source_uri for a in assets] == [f"plex://{movie.rating_key}/{p}" for p in part_ids]
    assert assets[0].duration_ms is None  # a part of a multi-part film is not the whole film
    assert assets[2].duration_ms == 5_400_000  # a single-part version is


def test_change_token_follows_updated_at_part_id_and_size(plex):
    imp = importer(plex)
    before = {a.source_uri: a.change_token for a in imp.fetch_assets_for_collection("1")}
    heat = plex.sections["1"].items[0]
    heat.media[0].parts[0].size += 1
    plex.sections["1"].items[1].attrs["updatedAt"] += 60
    after = {a.source_uri: a.change_token for a in imp.fetch_assets_for_collection("1")}
    changed = {uri for uri in before if before[uri] != after[uri]}
    assert changed == {
        f"plex://{heat.rating_key}",
        f"plex://{plex.sections['1'].items[1].rating_key}",
    }


# ----- surgical filters -----------------------------------------------------------------------
def test_title_filter_is_exact_and_case_insensitive_and_sent_to_the_server(plex):
    assets = list(importer(plex).fetch_assets_for_collection("1", filter_title="HEAT"))
    assert [a.title for a in assets] == ["Heat"]
    assert plex.requests_to(LISTING)[-1].query["title"] == "HEAT"


def test_show_title_season_and_episode_filters(plex):
    imp = importer(plex)
    lost = list(imp.fetch_assets_for_collection("2", filter_title="lost"))
    assert {a.series_title for a in lost} == {"Lost"} and len(lost) == 5
    assert plex.requests_to(LISTING)[-1].query["show.title"] == "lost"
    season = list(imp.fetch_assets_for_collection("2", filter_title="Lost", filter_season=2))
    assert [(a.season_number, a.episode_number) for a in season] == [(2, 1), (2, 2)]
    one = list(
        imp.fetch_assets_for_collection("2", filter_title="Lost", filter_season=1, filter_episode=3)
    )
    assert [a.path for a in one] == ["/data/TV/Lost/Season 01/Lost - S01E03.mkv"]


def test_unknown_or_skipped_section_is_gone_upstream(plex):
    imp = importer(plex)
    with pytest.raises(CollectionNotFoundError):
        list(imp.fetch_assets_for_collection("99"))
    with pytest.raises(CollectionNotFoundError):
        list(imp.fetch_assets_for_collection("3"))  # a music section is not a collection


# ----- scale: one paged listing per section ---------------------------------------------------
def test_large_library_is_read_in_one_paged_listing_per_section(fake_plex):
    movies = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    for n in range(2500):
        fake_plex.add_movie(movies, f"Movie {n}", year=1950 + n % 70)
    tv = fake_plex.add_section("2", "TV", "show", ["/data/TV"])
    for n in range(40):
        fake_plex.add_show(tv, f"Show {n}", {1: 30, 2: 25, 0: 2})
    imp = importer(fake_plex)
    for key, expected in (("1", 2500), ("2", 40 * 57)):
        fake_plex.log.clear()
        assets = list(imp.fetch_assets_for_collection(key))
        assert len(assets) == expected
        assert len({a.source_uri for a in assets}) == expected
        pages = math.ceil(expected / imp.page_size)
        assert listing_requests(fake_plex) == pages
        assert len(fake_plex.log) <= pages + 2  # + GET / (first time) + /library/sections
        assert fake_plex.requests_to(r"/library/metadata/.*") == []  # no per-item requests
    assert {r.query["type"] for r in fake_plex.requests_to(LISTING)} == {"4"}
    assert 500 <= imp.page_size <= 1000


def test_pages_shortened_by_the_server_are_still_read_completely(plex):
    """plexapi's own loop drops items here (notes §3 trap 2); ours advances by what it got."""
    plex.page_cap = 2
    from plexapi.server import PlexServer

    assert len(PlexServer(plex.url, plex.token).library.sectionByID(2).searchEpisodes()) < 7
    plex.log.clear()
    assert len(list(importer(plex).fetch_assets_for_collection("2"))) == 7
    assert listing_requests(plex) == 4


def test_total_size_claiming_more_items_than_delivered_fails(plex):
    plex.phantom_items = 1
    with pytest.raises(ImporterResponseError, match="received 7 of the 8"):
        list(importer(plex).fetch_assets_for_collection("2"))


def test_library_changing_during_the_listing_fails(plex):
    imp = importer(plex)
    imp.page_size = 2
    assets = imp.fetch_assets_for_collection("1")
    next(assets)
    plex.add_movie(plex.sections["1"], "Zulu", year=1964)
    with pytest.raises(ImporterResponseError, match="totalSize went from 3 to 4"):
        list(assets)


# ----- failures -------------------------------------------------------------------------------
def test_server_error_mid_listing_is_reported_without_the_token(plex, monkeypatch):
    monkeypatch.setenv("PLEXAPI_LOG_SHOW_SECRETS", "true")  # plexapi then puts the token in URLs
    imp = importer(plex)
    imp.page_size = 2
    plex.fail_after = 3  # GET /, /library/sections, first page
    with pytest.raises(ImporterResponseError, match="500") as caught:
        list(imp.fetch_assets_for_collection("2"))
    assert listing_requests(plex) == 2
    rendered = "".join(traceback.format_exception(caught.value))
    assert "X-Plex-Token=" in rendered and plex.token not in rendered


def test_garbage_answer_mid_listing(plex):
    imp = importer(plex)
    imp.page_size = 2
    plex.garbage_after = 3
    with pytest.raises(ImporterResponseError):
        list(imp.fetch_assets_for_collection("1"))


def test_bad_token_names_the_server_and_never_the_token(plex, monkeypatch):
    monkeypatch.setenv("PLEXAPI_LOG_SHOW_SECRETS", "true")
    imp = PlexImporter({"base_url": plex.url, "token": "wrong-secret-token"})
    with pytest.raises(ImporterAuthError) as caught:
        imp.list_collections()
    exc = caught.value
    rendered = str(exc) + repr(exc) + "".join(traceback.format_exception(exc))
    assert plex.url in str(exc)
    assert "wrong-secret-token" not in rendered
    assert exc.__cause__ is None and exc.__context__ is None


def test_closed_port_is_unreachable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(ImporterUnreachableError, match=url):
        PlexImporter({"base_url": url, "token": "t0ken-value"}).validate_connection()


def test_slow_server_is_unreachable_after_the_timeout(plex):
    plex.latency = 0.5
    with pytest.raises(ImporterUnreachableError, match="timeout"):
        importer(plex, timeout=0.1).validate_connection()


# ----- ingestibility --------------------------------------------------------------------------
def test_ingestible_only_when_every_location_maps_to_a_readable_directory(tmp_path):
    collection = UpstreamCollection("1", "Movies", ("/data/Movies", "/data/MoviesHD"), "movie")
    (tmp_path / "m").mkdir()
    (tmp_path / "hd").mkdir()
    ok = [
        PathMappingSpec("/data/Movies", str(tmp_path / "m")),
        PathMappingSpec("/data/MoviesHD", str(tmp_path / "hd")),
    ]
    check = PlexImporter({"base_url": "http://unused", "token": "x"}).check_ingestible
    assert check(collection, ok) == (True, None)

    ingestible, reason = check(collection, [ok[0], PathMappingSpec("/data/MoviesHD", None)])
    assert not ingestible and "'/data/MoviesHD'" in reason and "'/data/Movies'" not in reason

    missing = [ok[0], PathMappingSpec("/data/MoviesHD", str(tmp_path / "nope"))]
    ingestible, reason = check(collection, missing)
    assert not ingestible and "nope" in reason and "/data/MoviesHD" in reason

    conflicting = ok + [PathMappingSpec("/data/Movies", str(tmp_path / "hd"))]
    ingestible, reason = check(collection, conflicting)
    assert not ingestible and "/data/Movies" in reason

    assert (
        check(collection, [PathMappingSpec("/data", str(tmp_path))])[0] is False
    )  # no /data/Movies dir
