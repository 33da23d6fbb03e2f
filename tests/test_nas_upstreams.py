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

from retrovue.database.models import Asset
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
