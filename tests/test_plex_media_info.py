"""Issue 11, Plex: the media facts a section listing already carries are stored at ingest
(``assets.metadata["media"]``, no extra request), and the ``ffprobe`` enricher can build its
result from them (``from_media_info``); the enrichers name the ``assets`` columns their results
fill (``hot_columns``)."""

from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset
from retrovue.enrichers.base import BaseEnricher, EnrichInput
from retrovue.enrichers.ffprobe import FFProbeEnricher
from retrovue.enrichers.loudness import LoudnessEnricher
from retrovue.importers.plex import PlexImporter
from tests import media
from tests.fakeplex import FakePlex

LISTING = r"/library/sections/\d+/all"
HOT = {"duration_ms", "container", "video_codec", "audio_codec", "width", "height", "bit_rate"}

#: what a real PMS puts on a movie's <Media> in a section listing
PLEX_MEDIA = {
    "bitrate": "8000",
    "width": "1920",
    "height": "1080",
    "aspectRatio": "1.78",
    "audioChannels": "6",
    "audioCodec": "ac3",
    "videoCodec": "h264",
    "videoResolution": "1080",
    "container": "mp4",
    "videoFrameRate": "24p",
    "audioProfile": "lc",
    "videoProfile": "high",
}

COMPLETE = {
    "container": "mp4",
    "duration_ms": 5_400_000,
    "bit_rate": 8_000_000,
    "video_codec": "h264",
    "video_profile": "high",
    "width": 1920,
    "height": 1080,
    "audio_codec": "ac3",
    "audio_channels": 6,
    "audio_profile": "lc",
    # the importer's origin and own labels (issue 18: ffprobe names no importer)
    "origin": "plex-listing",
    "video_labels": {"plex_frame_rate": "24p", "plex_aspect_ratio": 1.78},
}


def movie_with(plex: FakePlex, title: str, media_attrs: dict, part_attrs: dict | None = None):
    section = plex.sections.get("1") or plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    movie = plex.add_movie(section, title, year=2000)
    movie.media[0].attrs.update(media_attrs)
    movie.media[0].parts[0].attrs.update(part_attrs or {})
    return movie


def listed(plex: FakePlex) -> dict:
    imp = PlexImporter({"base_url": plex.url, "token": plex.token})
    return {a.title: a for a in imp.fetch_assets_for_collection("1")}


# ----- (a) the importer -------------------------------------------------------------------------
def test_listing_media_attributes_are_stored_converted(fake_plex):
    movie_with(fake_plex, "Heat", PLEX_MEDIA, {"container": "mp4", "videoProfile": "high"})
    asset = listed(fake_plex)["Heat"]
    assert asset.metadata["media"] == COMPLETE
    assert asset.metadata["rating_key"] and asset.metadata["part_id"]  # the rest is unchanged
    json.dumps(asset.metadata, allow_nan=False)
    # no request beyond the listing itself (and the connection and section lookups)
    assert {r.path for r in fake_plex.log} <= {"/", "/library/sections", "/library/sections/1/all"}
    assert len(fake_plex.requests_to(LISTING)) == 1


def test_a_bare_listing_gives_what_it_has(fake_plex):
    movie_with(fake_plex, "Bare", {})
    assert listed(fake_plex)["Bare"].metadata["media"] == {
        "origin": "plex-listing",
        "container": "mkv",
        "duration_ms": 5_400_000,
    }


def test_hostile_values_are_dropped_or_capped(fake_plex):
    movie_with(
        fake_plex,
        "Hostile",
        {
            "width": "wide",
            "height": "-1080",
            "bitrate": "nan",
            "aspectRatio": "inf",
            "audioChannels": "1e400",
            "videoCodec": "x" * 10_000,
            "audioCodec": "   ",
            "videoFrameRate": "9" * 5_000,
            "container": "",
        },
        {"container": "", "duration": "long"},
    )
    info = listed(fake_plex)["Hostile"].metadata["media"]
    assert info == {
        "duration_ms": 5_400_000,  # the part's is not a number: the media's is used
        "video_codec": "x" * 64,
        "origin": "plex-listing",
        "video_labels": {"plex_frame_rate": "9" * 64},
    }


def test_part_values_win_and_streams_fill_gaps(fake_plex):
    movie = movie_with(fake_plex, "Streams", {"container": "mkv", "audioCodec": "aac"})
    part = movie.media[0].parts[0]
    part.attrs.update(container="mp4", duration="1234")
    part.streams = [
        {"id": 1, "streamType": 1, "codec": "hevc", "width": 3840, "height": 2160},
        {"id": 2, "streamType": 2, "codec": "eac3", "channels": 8, "profile": "atmos"},
        {"id": 3, "streamType": 2, "codec": "aac", "channels": 2},
        {"id": 4, "streamType": 3, "codec": "srt"},
    ]
    assert listed(fake_plex)["Streams"].metadata["media"] == {
        "container": "mp4",
        "duration_ms": 1234,
        "video_codec": "hevc",
        "width": 3840,
        "height": 2160,
        "audio_codec": "aac",  # the <Media> attribute, not the stream
        "audio_channels": 8,
        "audio_profile": "atmos",
        "origin": "plex-listing",
    }


def test_each_part_of_a_multi_part_movie_has_its_own_duration(fake_plex):
    section = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    movie = fake_plex.add_movie(
        section, "Kill Bill", versions=[["/data/Movies/kb1.mkv", "/data/Movies/kb2.mkv"]]
    )
    movie.media[0].attrs.update(videoCodec="h264", bitrate="4000")
    movie.media[0].parts[0].duration = 3_000_000
    imp = PlexImporter({"base_url": fake_plex.url, "token": fake_plex.token})
    first, second = (a.metadata["media"] for a in imp.fetch_assets_for_collection("1"))
    assert first["duration_ms"] == 3_000_000
    assert "duration_ms" not in second  # the whole film's duration is not this part's
    assert first["bit_rate"] == second["bit_rate"] == 4_000_000


# ----- (b) from_media_info ------------------------------------------------------------------------
def test_base_hooks_default_to_nothing():
    assert BaseEnricher.from_media_info(COMPLETE) is None
    assert BaseEnricher.hot_columns({"duration_ms": 1}) == {}


def test_from_media_info_builds_a_listing_result():
    facts = FFProbeEnricher.from_media_info(COMPLETE)
    json.dumps(facts, allow_nan=False)
    assert facts["from"] == "plex-listing"
    assert (facts["duration_ms"], facts["container"], facts["bit_rate"]) == (
        5_400_000,
        "mp4",
        8_000_000,
    )
    video, audio = facts["streams"]
    assert (video["type"], video["codec"], video["profile"]) == ("video", "h264", "high")
    assert (video["width"], video["height"], video["plex_frame_rate"]) == (1920, 1080, "24p")
    assert (audio["type"], audio["codec"], audio["channels"]) == ("audio", "ac3", 6)
    assert facts["chapters"] == [] and facts["tags"] == {}


def test_from_media_info_needs_a_duration_and_a_codec():
    audio_only = {"duration_ms": 1000, "audio_codec": "flac"}
    assert [s["type"] for s in FFProbeEnricher.from_media_info(audio_only)["streams"]] == ["audio"]
    for partial in (
        {k: v for k, v in COMPLETE.items() if k not in ("video_codec", "audio_codec")},
        {k: v for k, v in COMPLETE.items() if k != "duration_ms"},
        {**COMPLETE, "duration_ms": "5400000"},  # not a number
        {**COMPLETE, "duration_ms": True},
        {"duration_ms": 1000, "video_codec": ""},
        {},
        None,
    ):
        assert FFProbeEnricher.from_media_info(partial) is None, partial


def test_from_media_info_has_the_shape_of_enrich(tmp_path):
    probed = FFProbeEnricher().enrich(EnrichInput("a1", str(media.write_av(tmp_path / "a.mkv"))))
    assert probed["from"] == "file"
    assert set(FFProbeEnricher.from_media_info(COMPLETE)) == set(probed)


# ----- (c) hot_columns ----------------------------------------------------------------------------
def test_hot_columns_of_a_probed_file(tmp_path):
    path = media.write_av(tmp_path / "av.mkv", size=(64, 48))
    facts = FFProbeEnricher().enrich(EnrichInput("a1", str(path)))
    columns = FFProbeEnricher.hot_columns(facts)
    assert set(columns) == HOT
    assert abs(columns["duration_ms"] - 1000) <= 50
    assert (columns["width"], columns["height"]) == (64, 48)
    assert (columns["video_codec"], columns["audio_codec"]) == ("h264", "aac")
    assert columns["container"] == "matroska,webm" and columns["bit_rate"] > 0


def test_hot_columns_of_a_listing_result_use_the_same_names():
    columns = FFProbeEnricher.hot_columns(FFProbeEnricher.from_media_info(COMPLETE))
    assert columns == {
        "duration_ms": 5_400_000,
        "container": "mp4",
        "video_codec": "h264",
        "audio_codec": "ac3",
        "width": 1920,
        "height": 1080,
        "bit_rate": 8_000_000,
    }
    sparse = FFProbeEnricher.from_media_info({"duration_ms": 1000, "audio_codec": "flac"})
    assert FFProbeEnricher.hot_columns(sparse) == {"duration_ms": 1000, "audio_codec": "flac"}


def test_hot_columns_skip_cover_art_and_values_that_do_not_fit():
    data = {
        "duration_ms": 2.5,
        "container": "c" * 100,
        "bit_rate": 2**70,
        "streams": [
            {"type": "video", "codec": "mjpeg", "width": 600, "height": 600, "attached_pic": True},
            {"type": "audio", "codec": "mp3"},
            {"type": "video", "codec": "vp9", "width": 2**40, "height": -1, "attached_pic": False},
        ],
    }
    assert FFProbeEnricher.hot_columns(data) == {
        "container": "c" * 64,
        "video_codec": "vp9",
        "audio_codec": "mp3",
    }
    assert FFProbeEnricher.hot_columns({}) == {}


def test_loudness_hot_column():
    assert LoudnessEnricher.hot_columns({"integrated_lufs": -23.04}) == {"loudness_lufs": -23.04}
    assert LoudnessEnricher.hot_columns({"integrated_lufs": -20}) == {"loudness_lufs": -20.0}
    for silent in ({"integrated_lufs": None}, {"integrated_lufs": float("nan")}, {}):
        assert LoudnessEnricher.hot_columns(silent) == {}


# ----- (d) through apply --------------------------------------------------------------------------
TOKEN_ENV = "TEST_PLEX_TOKEN"


@pytest.fixture
def plex_movies(fake_plex, tmp_path):
    section = fake_plex.add_section("1", "Movies", "movie", ["/data/Movies"])
    for i in range(3):
        movie = fake_plex.add_movie(section, f"Film {i}", year=1990 + i)
        movie.media[0].attrs.update(PLEX_MEDIA)
    local = tmp_path / "nas" / "Movies"
    local.mkdir(parents=True)
    doc = {
        "version": 1,
        "sources": [
            {
                "name": "Plex",
                "type": "plex",
                "config": {"base_url": fake_plex.url, "token": "${" + TOKEN_ENV + "}"},
                "collections": [
                    {
                        "name": "Movies",
                        "sync": True,
                        "path_mappings": [{"plex_path": "/data/Movies", "local_path": str(local)}],
                    }
                ],
            }
        ],
    }
    config = tmp_path / "retrovue.yaml"
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    return fake_plex, str(config)


def test_apply_stores_the_listing_media_in_assets_metadata(rv, db_url, engine, plex_movies):
    plex, config = plex_movies
    applied = rv("apply", "-c", config, "--auto-approve", db=db_url, env={TOKEN_ENV: plex.token})
    assert applied.code == 0, applied.err
    with engine.connect() as conn:
        stored = conn.execute(select(Asset.c.title, Asset.c.metadata)).all()
    assert len(stored) == 3
    for title, metadata in stored:
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        expected = {**COMPLETE, "container": "mkv"}  # the fake's <Part container="mkv"> wins
        assert metadata["media"] == expected, title


def test_numbers_no_column_can_hold_are_dropped_not_fatal(rv, db_url, engine, plex_movies):
    plex, config = plex_movies
    huge = plex.add_movie(plex.sections["1"], "Huge", year=10**12, duration=10**30)
    huge.media[0].parts[0].size = 10**20
    imp = PlexImporter({"base_url": plex.url, "token": plex.token})
    asset = {a.title: a for a in imp.fetch_assets_for_collection("1")}["Huge"]
    assert (asset.duration_ms, asset.year, asset.size) == (None, None, None)
    assert asset.metadata["media"] == {"origin": "plex-listing", "container": "mkv"}
    applied = rv("apply", "-c", config, "--auto-approve", db=db_url, env={TOKEN_ENV: plex.token})
    assert applied.code == 0, applied.err
    with engine.connect() as conn:
        assert len(conn.execute(select(Asset.c.id)).all()) == 4


def test_a_changed_item_gets_its_new_listing_and_loses_the_old_facts(
    rv, db_url, engine, plex_movies
):
    """issue 11: a changed file's stored media info follows the new listing, and what enrichers
    found about the file it replaced (results and probed columns) goes with it, so nothing
    describes the old file until it is enriched again."""
    plex, config = plex_movies
    env = {TOKEN_ENV: plex.token}
    assert rv("apply", "-c", config, "--auto-approve", db=db_url, env=env).code == 0
    with engine.begin() as conn:  # as if ffprobe had described the old file
        conn.execute(
            Asset.update().values(
                width=640, video_codec="mpeg2video", metadata={"enrichers": {"ffprobe": {}}}
            )
        )
    film = plex.sections["1"].items[0]
    film.attrs["updatedAt"] = str(int(film.attrs["updatedAt"]) + 60)
    film.media[0].attrs["videoCodec"] = "hevc"
    applied = rv("apply", "-c", config, "--auto-approve", db=db_url, env=env)
    assert applied.code == 0, applied.err
    with engine.connect() as conn:
        rows = {
            r.title: r
            for r in conn.execute(
                select(Asset.c.title, Asset.c.metadata, Asset.c.width, Asset.c.video_codec)
            )
        }
    changed = rows[film.attrs["title"]]
    metadata = changed.metadata
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    assert metadata["media"]["video_codec"] == "hevc"
    assert "enrichers" not in metadata
    assert (changed.width, changed.video_codec) == (None, None)
    untouched = [r for title, r in rows.items() if title != film.attrs["title"]]
    assert all((r.width, r.video_codec) == (640, "mpeg2video") for r in untouched)


def test_only_facts_built_from_the_listing_count_as_from_the_listing(
    rv, db_url, plex_movies, tmp_path
):
    """issue 20: `from_listing` counted loudness as "from the listing" for every Plex asset
    ffprobe had built from the listing, though loudness always decodes the local file.  Now
    ffprobe's 3 count as from the listing and loudness's 3 (decoded from the files) do not."""
    plex, config = plex_movies
    doc = yaml.safe_load(open(config).read())
    doc["sources"][0]["enrichers"] = ["ffprobe", {"type": "loudness", "priority": 10}]
    open(config, "w").write(yaml.safe_dump(doc, sort_keys=False))
    for i in range(3):
        name = f"Film {i} ({1990 + i})"
        (tmp_path / "nas" / "Movies" / name).mkdir()
        media.write_av(tmp_path / "nas" / "Movies" / name / f"{name}.mkv", video=False)
    applied = rv(
        "apply", "-c", config, "--auto-approve", "--json", db=db_url, env={TOKEN_ENV: plex.token}
    )
    assert applied.code == 0, applied.err
    (enrichment,) = applied.json()["results"]["enrichments"]
    assert enrichment["counts"] == [
        {"type": "ffprobe", "enriched": 3, "failed": 0, "from_listing": 3},
        {"type": "loudness", "enriched": 3, "failed": 0, "from_listing": 0},
    ]
