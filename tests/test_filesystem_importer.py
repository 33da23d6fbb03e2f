"""The filesystem importer over real directory trees (DESIGN §9)."""

import os

import pytest

from retrovue.errors import CollectionNotFoundError, ImporterUnreachableError
from retrovue.importers.filesystem import FilesystemImporter, file_uri
from tests.helpers import make_tree


def importer(base, **config):
    return FilesystemImporter({"base_path": str(base), **config})


def test_collections_are_immediate_subdirectories_hidden_skipped(tmp_path):
    make_tree(tmp_path, {"movies": [], "shows": [], ".trash": []})
    (tmp_path / "loose-file.mkv").write_bytes(b"")
    found = importer(tmp_path).list_collections()
    assert [(c.external_id, c.name) for c in found] == [("movies", "movies"), ("shows", "shows")]
    assert found[0].locations == (str(tmp_path / "movies"),)


def test_extensions_case_insensitive_hidden_files_skipped(tmp_path):
    make_tree(
        tmp_path, {"c": ["A.MKV", "b.Mp4", "notes.txt", ".hidden.mkv", ".dir/x.mkv", "sub/c.mkv"]}
    )
    listed = {
        os.path.relpath(a.path, tmp_path / "c"): a.problem
        for a in importer(tmp_path).fetch_assets_for_collection("c")
    }
    hidden = "excluded by default: hidden file or folder (.*)"
    # hidden ones are counted skips, never assets; the folder is not entered (x.mkv unseen)
    assert listed == {
        "A.MKV": None,
        "b.Mp4": None,
        "sub/c.mkv": None,
        ".hidden.mkv": hidden,
        ".dir": hidden,
    }


def test_configured_extensions(tmp_path):
    make_tree(tmp_path, {"c": ["a.mkv", "b.ts", "c.TS"]})
    assets = importer(tmp_path, extensions=["ts"]).fetch_assets_for_collection("c")
    assert sorted(os.path.basename(a.path) for a in assets) == ["b.ts", "c.TS"]


def test_asset_fields_and_change_token(tmp_path):
    make_tree(
        tmp_path, {"shows": ["Space Patrol/Season 01/Space Patrol - S01E02 - The Return.mkv"]}
    )
    path = tmp_path / "shows/Space Patrol/Season 01/Space Patrol - S01E02 - The Return.mkv"
    path.write_bytes(b"12345")
    os.utime(path, ns=(1_000_000_000, 2_000_000_000))
    imp = importer(tmp_path)
    (listed,) = imp.fetch_assets_for_collection("shows")
    assert listed.title is None  # parsing is deferred to items that get written
    asset = imp.describe(listed)
    assert asset.source_uri == file_uri(str(path)) and asset.source_uri.startswith("file:///")
    assert asset.path == str(path)
    assert asset.size == 5
    assert asset.change_token == "2000000000:5"
    assert (
        asset.kind,
        asset.series_title,
        asset.season_number,
        asset.episode_number,
        asset.title,
    ) == (
        "episode",
        "Space Patrol",
        1,
        2,
        "The Return",
    )


def test_unicode_spaces_and_long_names(tmp_path):
    long_name = (
        ("Ü" * 60) + " " + ("x" * 120) + ".mkv"
    )  # > 255 bytes would be refused by the FS; this is 243
    names = ["Amélie (2001).mkv", "日本語 タイトル.mp4", "with  spaces  .mkv", long_name]
    make_tree(tmp_path, {"c": names})
    assets = list(importer(tmp_path).fetch_assets_for_collection("c"))
    assert sorted(os.path.basename(a.path) for a in assets) == sorted(names)
    assert all("%" in a.source_uri for a in assets)  # percent-encoded in the URI, native in path


def test_symlink_loop_is_not_followed_and_does_not_hang(tmp_path):
    make_tree(tmp_path, {"c": ["a/x.mkv"]})
    os.symlink(tmp_path / "c", tmp_path / "c" / "a" / "loop")
    assets = list(importer(tmp_path).fetch_assets_for_collection("c"))
    assert [os.path.basename(a.path) for a in assets] == ["x.mkv"]
    followed = list(importer(tmp_path, follow_symlinks=True).fetch_assets_for_collection("c"))
    assert [os.path.basename(a.path) for a in followed] == ["x.mkv"]  # each directory entered once


def test_follow_symlinks_reaches_linked_folders(tmp_path):
    make_tree(tmp_path, {"c": [], "elsewhere": ["y.mkv"]})
    os.symlink(tmp_path / "elsewhere", tmp_path / "c" / "linked")
    assert list(importer(tmp_path).fetch_assets_for_collection("c")) == []
    followed = list(importer(tmp_path, follow_symlinks=True).fetch_assets_for_collection("c"))
    assert [os.path.basename(a.path) for a in followed] == ["y.mkv"]


def test_missing_base_path_is_unreachable(tmp_path):
    with pytest.raises(ImporterUnreachableError, match="does not exist"):
        importer(tmp_path / "nope").list_collections()


def test_vanished_collection_folder(tmp_path):
    make_tree(tmp_path, {"c": []})
    imp = importer(tmp_path)
    with pytest.raises(CollectionNotFoundError):
        list(imp.fetch_assets_for_collection("gone"))


def test_check_ingestible(tmp_path):
    make_tree(tmp_path, {"c": []})
    imp = importer(tmp_path)
    (coll,) = imp.list_collections()
    assert imp.check_ingestible(coll, []) == (True, None)
    (tmp_path / "c").rmdir()
    ok, reason = imp.check_ingestible(coll, [])
    assert not ok and "does not exist" in reason


def test_title_filter_matches_series_or_movie_exactly_case_insensitive(tmp_path):
    make_tree(
        tmp_path,
        {
            "c": [
                "Space Patrol/Season 01/Space Patrol - S01E01.mkv",
                "Space Patrol/Season 02/Space Patrol - S02E01.mkv",
                "Space Patrol II - S01E01.mkv",
                "Space Patrol (1962).mkv",
            ]
        },
    )
    imp = importer(tmp_path)

    def names(**kw):
        return sorted(os.path.basename(a.path) for a in imp.fetch_assets_for_collection("c", **kw))

    assert names(filter_title="space patrol") == [
        "Space Patrol (1962).mkv",
        "Space Patrol - S01E01.mkv",
        "Space Patrol - S02E01.mkv",
    ]
    assert names(filter_title="Space Patrol", filter_season=2) == ["Space Patrol - S02E01.mkv"]
    assert names(filter_title="Space Patrol", filter_season=1, filter_episode=1) == [
        "Space Patrol - S01E01.mkv"
    ]


@pytest.mark.parametrize(
    "name", ["Show 01 - S01E02.mkv", "plain.mkv", "A [b] #c%d?.mkv", "tab\there.mkv", " ", ""]
)
def test_file_uris_percent_encode_exactly_what_rfc3986_does_not_allow(name):
    """The fast path for names whose only unsafe character is a space gives the same URI as
    urllib's quote, which the non-ASCII path uses."""
    from urllib.parse import quote

    expected = "file:///m/" + quote(name, safe="/:@!$&'()*+,;=-._~")
    assert file_uri("/m/" + name) == expected
