"""The Jellyfin and Emby importers against the fake server over HTTP (issue 23).

Every test that takes ``fake_media_server`` runs once as Jellyfin and once as Emby: the two
differ only in where the API lives and how the key is sent, which the fake checks.
"""

from __future__ import annotations

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
from retrovue.importers.jellyfin import EmbyImporter, JellyfinImporter
from retrovue.importers.jellyfin_items import (
    NO_FILE,
    PLACEHOLDER_SOURCE,
    REMOTE,
    STACKED_PART,
    VIRTUAL,
)
from retrovue.importers.registry import load_registry
from retrovue.model.listing import ListingMedia
from retrovue.model.upstream import NOT_OFFERED
from tests.fakejellyfin import FakeJellyfin, captured

IMPORTERS = {"jellyfin": JellyfinImporter, "emby": EmbyImporter}


def importer(server: FakeJellyfin, **config):
    cls = IMPORTERS[server.flavor]
    return cls({"base_url": server.url, "api_key": server.api_key, **config})


def listed(imp, external_id, **filters):
    return list(imp.fetch_assets_for_collection(external_id, **filters))


@pytest.fixture
def server(fake_media_server: FakeJellyfin) -> FakeJellyfin:
    """Movies (one in two versions), a show library, and a music library (not ingested)."""
    movies = fake_media_server.add_library("Movies", "movies", ["/data/Movies", "/data/MoviesHD"])
    fake_media_server.add_movie(movies, "Heat", year=1995)
    fake_media_server.add_movie(movies, "Alien", year=1979)
    fake_media_server.add_movie(
        movies, "Kill Bill", year=2003, files=["/data/Movies/KB/kb.mkv", "/data/MoviesHD/KB/kb.mkv"]
    )
    tv = fake_media_server.add_library("TV Shows", "tvshows", ["/data/TV"])
    fake_media_server.add_show(tv, "Lost", {1: 3, 2: 2})
    fake_media_server.add_show(tv, "Lost Girl", {1: 2})
    fake_media_server.add_library("Music", "music", ["/data/Music"])
    return fake_media_server


def library_id(server: FakeJellyfin, name: str) -> str:
    return next(lib.item_id for lib in server.libraries.values() if lib.name == name)


# ----- contract and discovery ------------------------------------------------------------------
def test_both_types_are_registered_with_the_same_parameters():
    registry = load_registry(include_plugins=False)
    assert registry.get("jellyfin") is JellyfinImporter and registry.get("emby") is EmbyImporter
    for cls in IMPORTERS.values():
        specs = {p.name: p for p in cls.param_spec()}
        assert list(specs) == ["base_url", "api_key", "verify_ssl", "timeout"]
        assert specs["base_url"].required and specs["api_key"].required
        assert cls.sensitive_params() == {"api_key"} and cls.uses_path_mappings


def test_each_type_sends_the_key_its_own_way(server):
    importer(server).validate_connection()
    (request,) = server.requests_to("/System/Info")
    assert request.query == {}  # never in the URL, where logs and proxies would keep it
    if server.flavor == "emby":
        assert "authorization" not in request.headers  # X-Emby-Token, removed by the fake
    else:
        assert "x-emby-token" not in request.headers  # Authorization: MediaBrowser Token="…"


def test_an_emby_base_url_may_name_the_api_path_itself(fake_media_server):
    server = fake_media_server
    imp = importer(server)
    imp.base_url += server.prefix  # http://host:port/emby for Emby, unchanged for Jellyfin
    imp.validate_connection()
    assert server.requests_to("/System/Info")


def test_libraries_become_collections_and_the_rest_is_named(server):
    imp = importer(server)
    assert imp.list_collections() == [
        UpstreamCollection(
            library_id(server, "Movies"), "Movies", ("/data/Movies", "/data/MoviesHD"), "movies"
        ),
        UpstreamCollection(library_id(server, "TV Shows"), "TV Shows", ("/data/TV",), "tvshows"),
    ]
    assert imp.skipped_collections() == [
        (library_id(server, "Music"), "Music", "library type 'music' is not ingested")
    ]


def test_a_mixed_library_and_its_locations_from_path_infos(server):
    """A library without CollectionType is mixed content; a server that leaves ``Locations``
    empty still names its folders in ``LibraryOptions.PathInfos``."""
    mixed = server.add_library("Everything", None, ["/data/All"])
    server.add_movie(mixed, "Solaris", year=1972)
    server.add_episode(mixed, "Sherlock", 1, 1)
    folder = server._folder(mixed)
    assert "CollectionType" not in folder
    collection = next(c for c in importer(server).list_collections() if c.name == "Everything")
    assert (collection.kind, collection.locations) == ("mixed", ("/data/All",))
    kinds = sorted(a.kind for a in listed(importer(server), mixed.item_id))
    assert kinds == ["episode", "movie"]


def test_duplicate_locations_are_one_and_nested_ones_stay(server):
    """A library whose Locations overlap: the same folder spelled twice is one location (one
    path mapping); a folder inside another stays its own (it may be mounted elsewhere)."""
    server.add_library(
        "Overlap",
        "movies",
        ["/data/Films", "/data/Films/", "/data/Films/4K", "D:\\Films", "d:\\films\\"],
    )
    collection = next(c for c in importer(server).list_collections() if c.name == "Overlap")
    assert collection.locations == ("/data/Films", "/data/Films/4K", "D:\\Films")


def test_a_300_character_library_name_is_stored_shortened_with_the_full_name_kept(server):
    long = "Classic Films " * 21 + "of the Thirties"  # 309 characters
    server.add_library(long, "movies", ["/data/Long"])
    (collection,) = [c for c in importer(server).list_collections() if c.upstream_name]
    assert len(collection.name) <= 255 and collection.name.startswith("Classic Films")
    assert collection.upstream_name == long


def test_hostile_library_and_item_names_are_kept_as_data(server):
    hostile = 'Films"; DROP TABLE assets; --\x1b[31m/../..'
    lib = server.add_library(hostile, "movies", ["/data/Hostile"])
    server.add_movie(
        lib, "../../etc/passwd\u202e", files=["/data/Hostile/\u00e9t\u00e9 \U0001f3ac.mkv"]
    )
    assert hostile in [c.name for c in importer(server).list_collections()]
    (asset,) = listed(importer(server), lib.item_id)
    assert asset.title == "../../etc/passwd\u202e"
    assert asset.path == "/data/Hostile/\u00e9t\u00e9 \U0001f3ac.mkv"


# ----- assets ---------------------------------------------------------------------------------
def test_episodes_carry_series_season_episode_file_size_and_duration(server):
    assets = listed(importer(server), library_id(server, "TV Shows"))
    assert len(assets) == 7
    first = assets[0]
    assert (first.kind, first.series_title, first.title) == ("episode", "Lost", "Episode 1")
    assert (first.season_number, first.episode_number) == (1, 1)
    assert first.path == "/data/TV/Lost/Season 01/Lost - S01E01.mkv"
    assert first.duration_ms == 1_800_000 and first.size == 900_000_000
    item_id = first.metadata["item_id"]
    assert first.source_uri == f"{server.flavor}://{item_id}"


def test_each_version_of_an_item_is_its_own_asset(server):
    movies = server.libraries[library_id(server, "Movies")]
    kill_bill = next(i for i in movies.items if i["Name"] == "Kill Bill")
    assets = [a for a in listed(importer(server), movies.item_id) if a.title == "Kill Bill"]
    assert [a.path for a in assets] == ["/data/Movies/KB/kb.mkv", "/data/MoviesHD/KB/kb.mkv"]
    assert [a.source_uri for a in assets] == [
        f"{server.flavor}://{kill_bill['Id']}/{s['Id']}" for s in kill_bill["MediaSources"]
    ]
    assert [a.metadata["version"]["index"] for a in assets] == [1, 2]


def test_the_change_token_follows_the_file_not_the_metadata(server):
    movies = server.libraries[library_id(server, "Movies")]
    heat = next(i for i in movies.items if i["Name"] == "Heat")

    def token():
        return next(a for a in listed(importer(server), movies.item_id) if a.title == "Heat")

    before = token().change_token
    heat["Name"], heat["Etag"] = "Heat (Director's Cut)", "edited"  # a metadata edit
    heat["Name"] = "Heat"
    assert token().change_token == before
    heat["MediaSources"][0]["Size"] += 1  # the file was replaced
    assert token().change_token != before
    before = token().change_token
    heat["MediaSources"][0]["ETag"] = "new-file-date"
    assert token().change_token != before


def test_the_listing_asks_for_the_fields_it_needs(server):
    """Without ``Fields`` a server leaves ``Path`` and ``MediaSources`` out (the fake does too):
    every asset here has a file, so the importer asked."""
    assets = listed(importer(server), library_id(server, "Movies"))
    assert all(a.path.startswith("/data/") and a.kind == "movie" for a in assets)
    listing = server.requests_to("/Items")[-1].query
    assert listing["Recursive"] == "true" and listing["IncludeItemTypes"] == "Movie"
    assert {"Path", "MediaSources", "DateModified"} <= set(listing["Fields"].split(","))


def test_listing_media_facts_are_kept_for_the_enricher(server):
    (asset,) = [
        a for a in listed(importer(server), library_id(server, "Movies")) if a.title == "Heat"
    ]
    media = asset.metadata["media"]
    assert media["origin"] == f"{server.flavor}-listing"
    assert (media["container"], media["duration_ms"], media["bit_rate"]) == (
        "mkv",
        5_400_000,
        8_000_000,
    )
    assert (media["video_codec"], media["width"], media["height"]) == ("h264", 1920, 1080)
    assert (media["audio_codec"], media["audio_channels"]) == ("aac", 2)
    assert media["video_labels"][f"{server.flavor}_aspect_ratio"] == "16:9"
    assert ListingMedia.from_json(media).to_json() == media  # the model's own shape and order
    assert list(media) == list(ListingMedia.from_json(media).to_json())

    from retrovue.enrichers.ffprobe import FFProbeEnricher

    facts = FFProbeEnricher.from_media_info(media)
    assert facts["duration_ms"] == 5_400_000 and facts["from"] == f"{server.flavor}-listing"


# ----- what is listed but is no file: counted, never lost ----------------------------------------
def test_items_that_are_no_file_are_counted_with_their_reason(server):
    lib = server.add_library("Odd", "movies", ["/data/Odd"])
    no_path = server.add_movie(lib, "No Path")
    del no_path["Path"]
    del no_path["MediaSources"][0]["Path"]
    no_sources = server.add_movie(lib, "No Sources")
    del no_sources["Path"], no_sources["MediaSources"]
    virtual = server.add_movie(lib, "Virtual")
    virtual["LocationType"] = "Virtual"
    strm = server.add_movie(lib, "Stream")
    strm["MediaSources"][0].update(Protocol="Http", Path="https://cdn.example/x.m3u8")
    stub = server.add_movie(lib, "Stub")
    stub["MediaSources"][0]["Type"] = "Placeholder"
    server.add_movie(lib, "Real")
    assets = listed(importer(server), lib.item_id)
    reasons = {a.path if a.kind != NOT_OFFERED else a.problem for a in assets}
    assert reasons == {NO_FILE, VIRTUAL, REMOTE, PLACEHOLDER_SOURCE, "/data/Odd/Real/Real.mkv"}
    assert [a.problem for a in assets].count(NO_FILE) == 2
    assert all(a.size is None for a in assets if a.kind == NOT_OFFERED)


def test_every_part_of_a_stacked_item_is_an_asset(server):
    """A stacked film's further parts, which the listing leaves out, are read with one
    ``AdditionalParts`` request and each becomes an asset of its own; the first part keeps the
    URI an unstacked item has, the others hang off it by their own item id."""
    lib = server.add_library("Stacked", "movies", ["/data/Stacked"])
    server.add_movie(lib, "Plain", year=2001)
    gp = server.add_movie(
        lib,
        "Genius Party",
        year=2007,
        files=["/data/Stacked/GP/Genius Party - pt1.mkv"],
        parts=[
            "/data/Stacked/GP/Genius Party - pt2.mkv",
            "/data/Stacked/GP/Genius Party - pt3.mkv",
        ],
    )
    assert gp["PartCount"] == 3
    server.log.clear()
    assets = [a for a in listed(importer(server), lib.item_id) if a.title == "Genius Party"]
    assert [a.path for a in assets] == [
        f"/data/Stacked/GP/Genius Party - pt{n}.mkv" for n in (1, 2, 3)
    ]
    assert all(a.kind == "movie" and a.problem is None and a.year == 2007 for a in assets)
    first, *rest = assets
    part_ids = [p["Id"] for p in server.parts[gp["Id"]]]
    assert first.source_uri == f"{server.flavor}://{gp['Id']}"
    assert [a.source_uri for a in rest] == [f"{first.source_uri}/part/{i}" for i in part_ids]
    assert [a.size for a in assets] == [1_500_000_000, 1_500_000_100, 1_500_000_200]
    assert [a.metadata["part"] for a in rest] == [
        {"index": n, "of": 3, "item_id": i} for n, i in zip((2, 3), part_ids, strict=True)
    ]
    assert all(a.metadata["item_id"] == gp["Id"] for a in rest)
    assert all(a.metadata["media"]["video_codec"] == "h264" for a in rest)
    assert len({a.change_token for a in assets}) == 3
    # one extra request, for the stacked item only
    (parts_request,) = server.requests_to(r"/Videos/[^/]+/AdditionalParts")
    assert parts_request.path == f"/Videos/{gp['Id']}/AdditionalParts"


def test_a_part_the_server_does_not_describe_is_counted(server):
    lib = server.add_library("Stacked", "movies", ["/data/Stacked"])
    server.add_movie(
        lib, "Genius Party", files=["/data/Stacked/GP/pt1.mkv"], parts=["/data/Stacked/GP/pt2.mkv"]
    )["PartCount"] = 3
    first, second, third = listed(importer(server), lib.item_id)
    assert (first.problem, second.problem) == (None, None)
    assert (third.kind, third.problem) == (NOT_OFFERED, STACKED_PART)


@pytest.mark.parametrize("status", [404, 500])
def test_a_failing_parts_request_fails_the_listing_naming_server_and_item(server, status):
    lib = server.add_library("Stacked", "movies", ["/data/Stacked"])
    server.add_movie(lib, "Before")
    gp = server.add_movie(lib, "Genius Party", parts=["/data/Stacked/GP/pt2.mkv"])
    server.parts_status = status
    with pytest.raises(ImporterResponseError) as caught:
        listed(importer(server), lib.item_id)
    message = str(caught.value)
    assert message.startswith(f"{server.flavor.capitalize()} server {server.url}")
    assert f"parts of 'Genius Party' (Id '{gp['Id']}') in library 'Stacked'" in message
    assert str(status) in message


def test_an_item_without_media_sources_uses_its_own_path(server):
    lib = server.add_library("Old", "movies", ["/data/Old"])
    old = server.add_movie(lib, "Nosferatu", year=1922)
    del old["MediaSources"]
    (asset,) = listed(importer(server), lib.item_id)
    assert asset.path == "/data/Old/Nosferatu (1922)/Nosferatu (1922).mkv"
    assert asset.size is None and asset.year == 1922 and asset.problem is None


def test_hostile_numbers_are_dropped_not_fatal(server):
    lib = server.add_library("Numbers", "tvshows", ["/data/N"])
    item = server.add_episode(lib, "Show", 1, 1)
    item.update(ParentIndexNumber=2**40, IndexNumber="7", ProductionYear=True)
    item["MediaSources"][0].update(Size=-5.5, RunTimeTicks=1e300)
    item["RunTimeTicks"] = "18000000000"
    item["MediaSources"][0]["MediaStreams"][0]["Width"] = -1
    (asset,) = listed(importer(server), lib.item_id)
    assert (asset.season_number, asset.episode_number, asset.year) == (None, None, None)
    assert asset.size is None and asset.duration_ms is None
    assert "width" not in asset.metadata["media"] and asset.problem is None


# ----- captured responses -----------------------------------------------------------------------
def test_captured_items_become_assets(server):
    """Items as public client libraries captured them (tests/fixtures/jellyfin/README.md)."""
    movies = server.add_library("Captured Movies", "movies", ["/media/movies"])
    server.load_items(movies, [captured("ha-movie.json")])
    shows = server.add_library(
        "Captured Shows", "tvshows", ["/media/tvshows", "\\\\whatever\\party"]
    )
    server.load_items(shows, captured("ha-episodes.json")["Items"])
    one_tree_hill = server.add_episode(shows, "One Tree Hill", 3, 11)
    one_tree_hill["MediaSources"] = captured("ersatztv-playbackinfo.json")["MediaSources"]
    imp = importer(server)

    (movie,) = listed(imp, movies.item_id)
    assert movie.path == "/media/movies/MOVIE/MOVIE.mp4" and movie.kind == "movie"
    # the OpenAPI example's zeros are "unknown", not facts
    assert movie.duration_ms is None and "width" not in movie.metadata["media"]

    episode, oth = listed(imp, shows.item_id)
    # the item's Path is the example's "string": the MediaSource's path is the file
    assert episode.path == "/media/tvshows/Series/Season 01/S01E01.mp4"
    assert (episode.season_number, episode.episode_number) == (0, 0)
    assert oth.path == (
        "\\\\whatever\\party\\central\\One Tree Hill (2003)\\Season 03\\One Tree Hill - s03e11.mkv"
    )
    assert oth.size == 992_436_800 and oth.duration_ms == 2_450_599
    assert oth.change_token == "7b3cc3425da0b1ea7995a3cec137df48:" + (
        "97e9ee9f29ebff3f5c7a52cbc820a3f3:992436800"
    )
    media = oth.metadata["media"]
    assert (media["container"], media["video_codec"], media["width"], media["height"]) == (
        "mkv",
        "mpeg2video",
        720,
        576,
    )
    assert (media["audio_codec"], media["audio_channels"], media["bit_rate"]) == (
        "ac3",
        2,
        3_431_816,
    )


# ----- Windows and UNC servers: path mappings -----------------------------------------------------
def test_windows_and_unc_locations_map_and_check(server, tmp_path):
    local_share, local_drive = tmp_path / "share", tmp_path / "drive"
    (local_share / "Movies").mkdir(parents=True)
    (local_drive / "Films").mkdir(parents=True)
    lib = server.add_library("Win", "movies", ["\\\\NAS\\Media\\Movies", "M:\\Films"])
    imp = importer(server)
    (collection,) = [c for c in imp.list_collections() if c.name == "Win"]
    ok, reason = imp.check_ingestible(collection, [])
    assert not ok and "'\\\\NAS\\Media\\Movies', 'M:\\Films'" in reason
    assert ("Emby" if server.flavor == "emby" else "Jellyfin") + " location(s)" in reason
    mappings = [
        PathMappingSpec("//nas/media", str(local_share)),  # the same share, other slashes
        PathMappingSpec("m:", str(local_drive)),  # the whole drive
    ]
    assert imp.check_ingestible(collection, mappings) == (True, None)
    from retrovue.importers import pathmap

    server.add_movie(lib, "Ran", files=["\\\\nas\\MEDIA\\Movies\\Ran (1985)\\Ran.mkv"])
    (asset,) = listed(imp, lib.item_id)
    assert pathmap.resolve(asset.path, mappings) == str(
        local_share / "Movies" / "Ran (1985)" / "Ran.mkv"
    )


def test_ingestibility_names_a_missing_local_directory(server, tmp_path):
    imp = importer(server)
    (movies, _tv) = imp.list_collections()
    ok, reason = imp.check_ingestible(
        movies,
        [PathMappingSpec("/data", str(tmp_path / "gone"))],
    )
    assert not ok and "is not a directory" in reason and str(tmp_path / "gone") in reason


# ----- surgical ingest -------------------------------------------------------------------------------
def test_title_season_and_episode_filters_match_exactly(server):
    imp = importer(server)
    tv = library_id(server, "TV Shows")
    assert {a.series_title for a in listed(imp, tv, filter_title="lost")} == {"Lost"}
    season = listed(imp, tv, filter_title="Lost", filter_season=2)
    assert [(a.season_number, a.episode_number) for a in season] == [(2, 1), (2, 2)]
    (one,) = listed(imp, tv, filter_title="LOST GIRL", filter_season=1, filter_episode=2)
    assert one.path.endswith("Lost Girl - S01E02.mkv")
    (movie,) = listed(imp, library_id(server, "Movies"), filter_title="heat")
    assert movie.title == "Heat"
    assert imp.observation_token(tv) is None  # a narrowed listing proves nothing


# ----- paging and completeness ------------------------------------------------------------------------
def test_pages_are_requested_by_start_index_and_limit(server):
    tv = library_id(server, "TV Shows")
    imp = importer(server)
    imp.page_size = 3
    assert len(listed(imp, tv)) == 7
    pages = [r.query for r in server.requests_to("/Items") if r.query.get("Limit") == "3"]
    assert [p["StartIndex"] for p in pages] == ["0", "3", "6"]
    assert {p["ParentId"] for p in pages} == {tv}


def test_a_server_that_caps_pages_still_gives_everything(server):
    server.page_cap = 2
    imp = importer(server)
    imp.page_size = 5
    assert len(listed(imp, library_id(server, "TV Shows"))) == 7


def test_a_shortened_listing_is_an_error_naming_server_and_library(server):
    """``TotalRecordCount`` announces more than the pages hold: the items received are yielded,
    then the listing fails: never a silent loss."""
    server.phantom_items = 2
    imp = importer(server)
    imp.page_size = 3
    received = []
    with pytest.raises(ImporterResponseError) as caught:
        for asset in imp.fetch_assets_for_collection(library_id(server, "TV Shows")):
            received.append(asset)
    assert len(received) == 7
    message = caught.value.message
    assert server.url in message and "'TV Shows'" in message
    assert "received 7 of the 9 items announced" in message
    assert imp.observation_token(library_id(server, "TV Shows")) is None


def test_a_total_that_moves_mid_listing_is_an_error(server):
    tv = server.libraries[library_id(server, "TV Shows")]
    imp = importer(server)
    imp.page_size = 3
    listing = imp.fetch_assets_for_collection(tv.item_id)
    next(listing)
    server.add_episode(tv, "Lost", 3, 1)  # a scan adds an item during the listing
    with pytest.raises(ImporterResponseError, match="TotalRecordCount went from 7 to 8"):
        list(listing)


def test_an_item_listed_twice_is_an_error(server):
    tv = server.libraries[library_id(server, "TV Shows")]
    tv.items.append(tv.items[0])
    tv.items.pop(1)  # same count, one item twice
    with pytest.raises(ImporterResponseError, match="listed twice"):
        listed(importer(server), tv.item_id)


def test_a_deleted_library_is_collection_not_found(server):
    with pytest.raises(CollectionNotFoundError, match="no movie, show or video library"):
        listed(importer(server), "0" * 32)
    with pytest.raises(CollectionNotFoundError):
        listed(importer(server), library_id(server, "Music"))


# ----- failures: typed, naming the server, never the key ---------------------------------------------
def assert_clean(error, server):
    text = error.message + (error.hint or "") + "".join(traceback.format_exception(error))
    assert server.api_key not in text
    assert error.__context__ is None and error.__cause__ is None


def test_a_wrong_key_is_an_auth_error_naming_the_server(server):
    imp = IMPORTERS[server.flavor]({"base_url": server.url, "api_key": "revoked-key-123"})
    with pytest.raises(ImporterAuthError) as caught:
        imp.validate_connection()
    assert caught.value.exit_code == 1
    assert server.url in caught.value.message and "rejected the API key" in caught.value.message
    assert "revoked-key-123" not in caught.value.message + (caught.value.hint or "")
    assert_clean(caught.value, server)


def test_a_failing_page_is_a_response_error(server):
    imp = importer(server)
    imp.page_size = 3
    imp.list_collections()
    server.fail_after = len(server.log) + 3  # library check, stamp, first page, then 500
    with pytest.raises(ImporterResponseError) as caught:
        listed(imp, library_id(server, "TV Shows"))
    assert "answered 500 Internal Server Error during listing library 'TV Shows'" in (
        caught.value.message
    )
    assert_clean(caught.value, server)


def test_a_reverse_proxy_page_is_named_as_such(server):
    server.html_after = 0
    with pytest.raises(ImporterResponseError) as caught:
        importer(server).list_collections()
    assert "answered 502 Bad Gateway" in caught.value.message
    assert "HTML page" in caught.value.message
    server.html_after, server.login_after = None, 0
    with pytest.raises(ImporterResponseError, match="not JSON.*HTML page"):
        importer(server).list_collections()


def test_garbage_is_a_response_error_quoting_it_harmlessly(server):
    server.garbage_after = 0
    with pytest.raises(ImporterResponseError) as caught:
        importer(server).validate_connection()
    assert "not JSON" in caught.value.message and "\x00" not in caught.value.message.split(":")[0]
    assert_clean(caught.value, server)


def test_a_slow_server_times_out_as_unreachable(server):
    server.latency = 0.5
    with pytest.raises(ImporterUnreachableError, match="did not answer within 0.2 s"):
        importer(server, timeout=0.2).validate_connection()


def test_an_unreachable_server(server):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    imp = IMPORTERS[server.flavor]({"base_url": f"http://127.0.0.1:{port}", "api_key": "k3y"})
    with pytest.raises(ImporterUnreachableError, match=f"127.0.0.1:{port} is unreachable"):
        imp.validate_connection()


# ----- one observation per apply -----------------------------------------------------------------------
def test_the_observation_token_proves_an_unchanged_library(server):
    tv = server.libraries[library_id(server, "TV Shows")]
    imp = importer(server)
    listed(imp, tv.item_id)
    token = imp.observation_token(tv.item_id)
    assert token is not None and imp.is_unchanged(tv.item_id, token)
    server.add_episode(tv, "Lost", 3, 1)
    assert not imp.is_unchanged(tv.item_id, token)
    tv.items.pop()
    tv.items.pop(0)  # one removed: the count moves
    assert not imp.is_unchanged(tv.item_id, token)
    assert not imp.is_unchanged(tv.item_id, "not a token")
