"""Real NAS shares (issue 19, filesystem items 8-12).

Every upstream item ends as an asset or as a counted, named skip the text plan shows: OS and
NAS litter and samples are excluded by default, ``exclude:`` patterns leave out more (and
``export`` writes them back), Plex-style extras are ``extra`` assets, media lying directly in
``base_path`` is reported, a show folder's year is its year, and a skip is shown even when
nothing else changes.  The trees are laid out as Synology, macOS, Windows and Plex leave them.
"""

from __future__ import annotations

import json
import os

import yaml
from sqlalchemy import select

from retrovue.database.tables import Asset
from retrovue.importers.filesystem import NOT_UTF8
from tests.helpers import fs_config, make_tree

DEFAULT = "excluded by default: "
EADIR = DEFAULT + "Synology index and thumbnails (@eaDir/)"
SAMPLE_CLIP = DEFAULT + "sample clip (*- [Ss]ample.*)"
SAMPLE_FOLDER = DEFAULT + "sample clips ([Ss]ample/)"
LOOSE_FILE = (
    "media file directly under base_path, in no collection: "
    "put it in a folder (each folder of base_path is a collection)"
)


def _synology_share(base):
    """A Synology video share: its litter at the top and inside the titles."""
    return make_tree(
        base,
        {
            "@eaDir": ["SYNOINDEX_MEDIA_INFO"],
            "#recycle": ["Movies/Old Movie (1990).mkv"],
            "#snapshot": ["GMT+00_2024.06.01-00.00.00/Movies/Heat (1995).mkv"],
            "$RECYCLE.BIN": ["S-1-5-21-1004/$RX1Y2Z3.mkv", "S-1-5-21-1004/desktop.ini"],
            "System Volume Information": ["IndexerVolumeGuid"],
            "lost+found": ["#1234567.mkv"],
            ".Trashes": ["501/Deleted.mkv"],
            "Movies": [
                "Alien (1979)/Alien (1979).mkv",
                "Alien (1979)/@eaDir/Alien (1979).mkv/SYNOINDEX_MEDIA_INFO",
                "Alien (1979)/@eaDir/Alien (1979).mkv/SYNOVIDEO_VIDEO_SCREENSHOT.jpg",
                "Alien (1979)/._Alien (1979).mkv",
                ".AppleDouble/Alien (1979).mkv",
                "Heat (1995)/Heat (1995).mkv",
                "Heat (1995)/Heat (1995) - sample.mkv",
                "Heat (1995)/Sample/heat.sample.mkv",
                "Heat (1995)/#recycle/Heat (1995).mkv",
            ],
        },
    )


def _plan(rv, db_url, config) -> tuple[dict, str]:
    doc = rv("plan", "-c", str(config), "--json", db=db_url)
    assert doc.code == 0, doc.err
    text = rv("plan", "-c", str(config), db=db_url)
    assert text.code == 0, text.err
    return json.loads(doc.out), text.out


def _ingest(doc: dict, name: str) -> dict:
    return next(
        a
        for a in doc["actions"]
        if a["kind"] == "ingest_collection" and a["collection"]["name"] == name
    )


def _skipped_collections(doc: dict) -> dict[str, str]:
    return {s["name"]: s["reason"] for s in doc["skipped_collections"]}


def _reasons(ingest: dict) -> dict[str, int]:
    return {s["reason"]: s["count"] for s in ingest["skipped_reasons"]}


def _rows(engine) -> dict[str, tuple]:
    """file name -> (kind, title, series_title, year, metadata) of each stored asset."""
    a = Asset.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(a.canonical_uri, a.kind, a.title, a.series_title, a.year, a.metadata)
        ).all()
    return {os.path.basename(r[0]): tuple(r[1:]) for r in rows}


def _apply(rv, db_url, config) -> None:
    result = rv("apply", "-c", str(config), "--auto-approve", db=db_url)
    assert result.code == 0, result.err + result.out


def _write(path, doc: dict):
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


# -- item 8: NAS litter and exclude: patterns --------------------------------------------------


def test_nas_and_os_litter_is_excluded_by_default_and_counted(rv, db_url, engine, tmp_path):
    base = _synology_share(tmp_path / "video")
    config = fs_config(tmp_path / "r.yaml", base, {"Movies": True})
    doc, text = _plan(rv, db_url, config)
    assert _skipped_collections(doc) == {
        "#recycle": DEFAULT + "Synology recycle bin (\\#recycle/)",
        "#snapshot": DEFAULT + "Synology snapshots (\\#snapshot/)",
        "$RECYCLE.BIN": DEFAULT + "Windows recycle bin ($RECYCLE.BIN/)",
        ".Trashes": DEFAULT + "macOS trash (.Trashes/)",
        "@eaDir": EADIR,
        "System Volume Information": DEFAULT + "Windows system folder (System Volume Information/)",
        "lost+found": DEFAULT + "files recovered by fsck (lost+found/)",
    }
    assert [
        a["collection"]["name"] for a in doc["actions"] if a["kind"] == "discover_collection"
    ] == ["Movies"]
    movies = _ingest(doc, "Movies")
    assert movies["counts"]["new"] == 2
    assert _reasons(movies) == {
        DEFAULT + "macOS resource forks (.AppleDouble/)": 1,
        DEFAULT + "macOS resource fork (._*)": 1,
        EADIR: 1,  # the folder, counted once: it is never entered
        DEFAULT + "Synology recycle bin (\\#recycle/)": 1,
        SAMPLE_CLIP: 1,
        SAMPLE_FOLDER: 1,
    }
    assert f"not a collection: {EADIR} (1, e.g. @eaDir)" in text
    assert f"skipped: {EADIR} (1, e.g. {base / 'Movies' / 'Alien (1979)' / '@eaDir'}/)" in text
    assert (
        f"skipped: {SAMPLE_FOLDER} (1, e.g. {base / 'Movies' / 'Heat (1995)' / 'Sample'}/)" in text
    )
    _apply(rv, db_url, config)
    assert sorted(_rows(engine)) == ["Alien (1979).mkv", "Heat (1995).mkv"]
    again = rv("plan", "-c", str(config), "--detailed-exitcode", db=db_url)
    assert again.code == 0, again.out  # skips are no change: the plan converges


def test_exclude_patterns_on_the_source_and_on_a_collection(rv, db_url, engine, tmp_path):
    base = make_tree(
        tmp_path / "video",
        {
            "Incoming": ["New Movie (2024).mkv"],
            "Movies": [
                "Alien (1979)/Alien (1979).mkv",
                "Alien (1979)/Alien (1979).mkv.part",
                "Alien (1979)/Alien (1979)-sample.mkv",
                "Extras Disc/Alien Bonus.mkv",
                "Heat (1995)/Heat (1995).mkv",
                "Heat (1995)/Heat (1995).part.mkv",
            ],
            "Shows": ["Extras Disc/Keep.mkv"],
        },
    )
    source = {
        "name": "NAS",
        "type": "filesystem",
        "config": {"base_path": str(base), "exclude": ["*.part.mkv", "/Incoming/"]},
        "collections": [
            # anchored to the collection's folder; '!' takes a default's match back
            {"name": "Movies", "sync": True, "exclude": ["/Extras Disc/", "!Alien*-sample.mkv"]},
            {"name": "Shows", "sync": True},
        ],
    }
    config = _write(tmp_path / "r.yaml", {"version": 1, "sources": [source]})
    doc, text = _plan(rv, db_url, config)
    assert _skipped_collections(doc) == {"Incoming": "excluded by exclude pattern '/Incoming/'"}
    assert _reasons(_ingest(doc, "Movies")) == {
        "excluded by exclude pattern '*.part.mkv'": 1,
        "excluded by the collection's exclude pattern '/Extras Disc/'": 1,
    }
    assert _ingest(doc, "Shows")["counts"]["new"] == 1  # another collection's pattern: not here
    assert "skipped: excluded by exclude pattern '*.part.mkv' (1, e.g. " in text
    _apply(rv, db_url, config)
    assert sorted(_rows(engine)) == [
        "Alien (1979)-sample.mkv",
        "Alien (1979).mkv",
        "Heat (1995).mkv",
        "Keep.mkv",
    ]
    # an imperative ingest walks with the same patterns: they are stored with the source
    (base / "Movies" / "Extras Disc" / "More.mkv").write_bytes(b"")
    (base / "Movies" / "Heat (1995)" / "Heat (1995).cd2.part.mkv").write_bytes(b"")
    result = rv("collection", "ingest", "Movies", "--json", db=db_url)
    assert result.code == 0, result.err
    assert sorted(_rows(engine)) == [
        "Alien (1979)-sample.mkv",
        "Alien (1979).mkv",
        "Heat (1995).mkv",
        "Keep.mkv",
    ]


def test_exclude_defaults_false_keeps_the_litter(rv, db_url, engine, tmp_path):
    base = make_tree(
        tmp_path / "video",
        {"@eaDir": ["x.mkv"], "Movies": ["Heat (1995)/Sample/heat.mkv", ".hidden.mkv"]},
    )
    source = {
        "name": "NAS",
        "type": "filesystem",
        "config": {"base_path": str(base), "exclude_defaults": False},
        "collections": [{"name": "Movies", "sync": True}],
    }
    config = _write(tmp_path / "r.yaml", {"version": 1, "sources": [source]})
    doc, _text = _plan(rv, db_url, config)
    assert doc["skipped_collections"] == []
    names = [a["collection"]["name"] for a in doc["actions"] if a["kind"] == "discover_collection"]
    assert names == ["@eaDir", "Movies"]
    _apply(rv, db_url, config)
    assert sorted(_rows(engine)) == [".hidden.mkv", "heat.mkv"]


def test_exclude_patterns_are_checked_where_they_are_written(rv, db_url, tmp_path):
    base = make_tree(tmp_path / "video", {"Movies": ["a.mkv"]})
    config = tmp_path / "r.yaml"
    config.write_text(
        "version: 1\n"
        "sources:\n"
        "  - name: NAS\n"
        "    type: filesystem\n"
        "    config:\n"
        f"      base_path: {json.dumps(str(base))}\n"
        "      exclude:\n"
        "        - '#recycle'\n"
        "        - 'Movies\\'\n"
        "    collections:\n"
        "      - name: Movies\n"
        "        exclude: ['ok/', '  ']\n"
    )
    result = rv("plan", "-c", str(config), db=db_url)
    assert result.code != 0
    assert f"{config}:8:11: " in result.err and "is a comment in gitignore syntax" in result.err
    assert "write '\\#recycle'" in result.err
    assert f"{config}:9:11: " in result.err and "not a valid gitignore pattern" in result.err
    assert f"{config}:12:26: " in result.err and "a blank pattern matches nothing" in result.err


def test_export_writes_the_patterns_back(rv, db_url, tmp_path):
    base = make_tree(tmp_path / "video", {"Movies": ["a.mkv", "b.part.mkv"], "Shows": []})
    source = {
        "name": "NAS",
        "type": "filesystem",
        "config": {
            "base_path": str(base),
            "exclude": ["*.part.mkv", "\\#Trash/", "$$RECYCLE.BIN/"],
            "exclude_defaults": False,
        },
        "collections": [
            {"name": "Movies", "sync": True, "exclude": ["!keep.part.mkv", "/Extras/"]},
            {"name": "Shows", "sync": False},
        ],
    }
    config = _write(tmp_path / "r.yaml", {"version": 1, "sources": [source]})
    _apply(rv, db_url, config)
    exported = rv("export", db=db_url)
    assert exported.code == 0, exported.err
    back = yaml.safe_load(exported.out)["sources"][0]
    assert back["config"]["exclude"] == ["*.part.mkv", "\\#Trash/", "$$RECYCLE.BIN/"]
    assert back["config"]["exclude_defaults"] is False
    assert "collection_exclude" not in back["config"]
    by_name = {c["name"]: c for c in back["collections"]}
    assert by_name["Movies"]["exclude"] == ["!keep.part.mkv", "/Extras/"]
    assert "exclude" not in by_name["Shows"]
    again = tmp_path / "exported.yaml"
    again.write_text(exported.out)
    result = rv("plan", "-c", str(again), "--detailed-exitcode", db=db_url)
    assert result.code == 0, result.out + result.err


# -- item 9: Plex local extras -----------------------------------------------------------------


def test_plex_local_extras_are_extra_assets_and_samples_excluded(rv, db_url, engine, tmp_path):
    base = make_tree(
        tmp_path / "video",
        {
            "Movies": [
                "Alien (1979)/Alien (1979).mkv",
                "Alien (1979)/Trailers/Teaser.mkv",
                "Alien (1979)/Behind The Scenes/Making Alien.mkv",
                "Alien (1979)/Deleted Scenes/Dinner.mkv",
                "Alien (1979)/Featurettes/Design.mkv",
                "Alien (1979)/Interviews/Ridley Scott.mkv",
                "Alien (1979)/Scenes/Chestburster.mkv",
                "Alien (1979)/Shorts/Short.mkv",
                "Alien (1979)/Other/Poster Gallery.mkv",
                "Alien (1979)/Extras/Commentary.mkv",
                "Alien (1979)/Alien (1979)-sample.mkv",
                "Alien (1979)/Sample/alien.mkv",
                "Heat (1995)/Heat (1995).mkv",
                "Heat (1995)/Heat (1995)-trailer.mp4",
                "Heat (1995)/Bank-featurette.mkv",
                "Heat (1995)/Diner-behindthescenes.mkv",
                "Heat (1995)/Alt Ending-deleted.mkv",
                "Heat (1995)/Pacino-interview.mkv",
                "Heat (1995)/Shootout-scene.mkv",
                "Heat (1995)/Animated-short.mkv",
                "Heat (1995)/Stills-other.mkv",
                "Ronin (1998)-trailer.mkv",
                "Other/Shelved (2001).mkv",  # a shelf of titles, not one title's extras
            ],
            "Shows": ["Doctor Who (2005)/Featurettes/Confidential.mkv"],
        },
    )
    config = fs_config(tmp_path / "r.yaml", base, {"Movies": True, "Shows": True})
    doc, text = _plan(rv, db_url, config)
    assert _reasons(_ingest(doc, "Movies")) == {
        DEFAULT + "sample clip (*-[Ss]ample.*)": 1,
        SAMPLE_FOLDER: 1,
    }
    _apply(rv, db_url, config)
    rows = _rows(engine)

    def extra(extra_type, title, of, year):
        return ("extra", title, None, year, {"extra_type": extra_type, "extra_of": of})

    alien = [
        ("Teaser.mkv", "trailer", "Teaser"),
        ("Making Alien.mkv", "behindthescenes", "Making Alien"),
        ("Dinner.mkv", "deleted", "Dinner"),
        ("Design.mkv", "featurette", "Design"),
        ("Ridley Scott.mkv", "interview", "Ridley Scott"),
        ("Chestburster.mkv", "scene", "Chestburster"),
        ("Short.mkv", "short", "Short"),
        ("Poster Gallery.mkv", "other", "Poster Gallery"),
        ("Commentary.mkv", "other", "Commentary"),
    ]
    for name, extra_type, title in alien:
        assert rows[name] == extra(extra_type, title, "Alien", 1979), name
    heat = [
        ("Heat (1995)-trailer.mp4", "trailer", "Heat (1995)"),
        ("Bank-featurette.mkv", "featurette", "Bank"),
        ("Diner-behindthescenes.mkv", "behindthescenes", "Diner"),
        ("Alt Ending-deleted.mkv", "deleted", "Alt Ending"),
        ("Pacino-interview.mkv", "interview", "Pacino"),
        ("Shootout-scene.mkv", "scene", "Shootout"),
        ("Animated-short.mkv", "short", "Animated"),
        ("Stills-other.mkv", "other", "Stills"),
    ]
    for name, extra_type, title in heat:
        assert rows[name] == extra(extra_type, title, "Heat", 1995), name
    assert rows["Ronin (1998)-trailer.mkv"] == extra("trailer", "Ronin", "Ronin", 1998)
    assert rows["Confidential.mkv"] == extra("featurette", "Confidential", "Doctor Who", 2005)
    assert rows["Alien (1979).mkv"] == ("movie", "Alien", None, 1979, None)
    assert rows["Shelved (2001).mkv"] == ("movie", "Shelved", None, 2001, None)
    assert "alien.mkv" not in rows and "Alien (1979)-sample.mkv" not in rows


# -- item 10: media directly under base_path ---------------------------------------------------


def test_media_directly_under_base_path_is_a_counted_skip_with_a_hint(rv, db_url, tmp_path):
    base = make_tree(tmp_path / "video", {"Movies": ["Alien (1979).mkv"]})
    for name in ("Heat (1995).mkv", "Ronin (1998).mp4", "notes.txt", "._Heat (1995).mkv"):
        (base / name).write_bytes(b"")
    config = fs_config(tmp_path / "r.yaml", base, {"Movies": True})
    _apply(rv, db_url, config)
    doc, text = _plan(rv, db_url, config)
    assert _skipped_collections(doc) == {
        "._Heat (1995).mkv": DEFAULT + "macOS resource fork (._*)",
        "Heat (1995).mkv": LOOSE_FILE,
        "Ronin (1998).mp4": LOOSE_FILE,
    }
    assert f"not a collection: {LOOSE_FILE} (2, e.g. Heat (1995).mkv)" in text
    assert "put it in a folder" in LOOSE_FILE
    assert text.rstrip().endswith("No changes.")


# -- item 11: a show folder's year -------------------------------------------------------------


def test_a_show_folders_year_is_its_year_and_title_finds_it(rv, db_url, engine, tmp_path):
    base = make_tree(
        tmp_path / "video",
        {
            "Shows": [
                "Doctor Who (2005)/Season 01/S01E01 - Rose.mkv",
                "Doctor Who (2005)/Season 01/Doctor Who (2005) - S01E02 - The End of the World.mkv",
                "Doctor Who (1963)/Season 01/S01E01 - An Unearthly Child.mkv",
                "Torchwood (2006)/Season 01/S01E01 - Everything Changes.mkv",
            ]
        },
    )
    config = fs_config(tmp_path / "r.yaml", base, {"Shows": False})
    _apply(rv, db_url, config)  # discovered, not synced: the ingest below is the only one
    result = rv("collection", "ingest", "Shows", "--title", "Doctor Who", "--json", db=db_url)
    assert result.code == 0, result.err
    rows = _rows(engine)
    assert rows == {
        "S01E01 - Rose.mkv": ("episode", "Rose", "Doctor Who", 2005, None),
        "Doctor Who (2005) - S01E02 - The End of the World.mkv": (
            "episode",
            "The End of the World",
            "Doctor Who",
            2005,
            None,
        ),
        "S01E01 - An Unearthly Child.mkv": (
            "episode",
            "An Unearthly Child",
            "Doctor Who",
            1963,
            None,
        ),
    }


# -- item 12: a skip shows in the text plan even when nothing changes --------------------------


def test_a_non_utf8_name_shows_in_the_text_plan_when_nothing_changes(rv, db_url, tmp_path):
    base = make_tree(tmp_path / "video", {"Movies": ["Alien (1979).mkv"]})
    bad_file = os.path.join(os.fsencode(base / "Movies"), b"Les Mis\xe9rables (1998).mkv")
    open(bad_file, "wb").close()
    os.mkdir(os.path.join(os.fsencode(base), b"S\xe9ries"))
    config = fs_config(tmp_path / "r.yaml", base, {"Movies": True})
    _apply(rv, db_url, config)
    doc, text = _plan(rv, db_url, config)
    assert not doc["has_changes"]
    assert _reasons(_ingest(doc, "Movies")) == {NOT_UTF8: 1}
    assert _skipped_collections(doc) == {"S\\xe9ries": NOT_UTF8}
    shown = base / "Movies" / "Les Mis\\xe9rables (1998).mkv"
    assert f"skipped: {NOT_UTF8} (1, e.g. {shown})" in text
    assert f"not a collection: {NOT_UTF8} (1, e.g. S\\xe9ries)" in text
    assert text.rstrip().endswith("No changes.")


def test_the_markdown_plan_lists_what_is_not_a_collection(rv, db_url, tmp_path):
    """What the text plan says of folders that are not collections, a pull-request comment
    says too (it showed them only in --json and the text plan)."""
    base = _synology_share(tmp_path / "video")
    config = fs_config(tmp_path / "r.yaml", base, {"Movies": True})
    markdown = rv("plan", "-c", str(config), "--format", "markdown", db=db_url)
    assert markdown.code == 0, markdown.err
    assert f"not a collection: {EADIR} (1, e.g. @eaDir)" in markdown.out
