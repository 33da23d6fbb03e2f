"""Path mapping resolution (DESIGN §7): longest whole-segment prefix, leading prefix only."""

from __future__ import annotations

import os

from retrovue.importers.base import PathMappingSpec as M
from retrovue.importers.pathmap import find_conflicts, resolve, uncovered_locations


def test_replaces_the_leading_prefix_and_keeps_the_rest():
    mappings = [M("/data/Movies", "/mnt/movies")]
    assert resolve("/data/Movies/Heat (1995)/Heat.mkv", mappings) == os.path.join(
        "/mnt/movies", "Heat (1995)", "Heat.mkv"
    )


def test_matches_whole_segments_only():
    mappings = [M("/data/Movies", "/mnt/movies")]
    assert resolve("/data/MoviesHD/x.mkv", mappings) is None
    assert resolve("/data/Movie", mappings) is None


def test_the_prefix_itself_maps_to_the_local_root():
    assert resolve("/data/Movies/", [M("/data/Movies", "/mnt/movies/")]) == "/mnt/movies"


def test_longest_prefix_wins_whatever_the_order():
    mappings = [
        M("/data", "/mnt/data"),
        M("/data/Movies/Kids", "/srv/kids"),
        M("/data/Movies", "/mnt/m"),
    ]
    assert resolve("/data/Movies/Kids/Up.mkv", mappings) == os.path.join("/srv/kids", "Up.mkv")
    assert resolve("/data/Movies/Heat.mkv", mappings) == os.path.join("/mnt/m", "Heat.mkv")
    assert resolve("/data/TV/x.mkv", mappings) == os.path.join("/mnt/data", "TV", "x.mkv")


def test_only_the_leading_occurrence_is_replaced():
    mappings = [M("/media", "/mnt")]
    assert resolve("/media/backup/media/a.mkv", mappings) == os.path.join(
        "/mnt", "backup", "media", "a.mkv"
    )
    assert resolve("/other/media/a.mkv", mappings) is None


def test_trailing_and_doubled_slashes_are_normalised():
    mappings = [M("/data/Movies///", "/mnt/movies//")]
    assert resolve("/data//Movies/a.mkv", mappings) == os.path.join("/mnt/movies", "a.mkv")


def test_mappings_without_local_path_are_ignored():
    mappings = [M("/data/Movies", None), M("/data", "/mnt/data")]
    assert resolve("/data/Movies/a.mkv", mappings) == os.path.join("/mnt/data", "Movies", "a.mkv")
    assert resolve("/data/Movies/a.mkv", [M("/data/Movies", None)]) is None


def test_root_mapping_covers_everything():
    assert resolve("/x/y.mkv", [M("/", "/mnt")]) == os.path.join("/mnt", "x", "y.mkv")


def test_windows_server_paths_split_on_backslashes_case_insensitively():
    mappings = [M("D:\\Media\\Movies", "/mnt/movies")]
    assert resolve("d:\\media\\movies\\Heat\\Heat.mkv", mappings) == os.path.join(
        "/mnt/movies", "Heat", "Heat.mkv"
    )
    assert resolve("D:\\Media\\MoviesHD\\a.mkv", mappings) is None


def test_same_plex_path_to_two_local_paths_is_a_conflict():
    messages = find_conflicts([M("/data/Movies", "/a"), M("/data/Movies/", "/b"), M("/data", "/c")])
    assert len(messages) == 1
    assert "/data/Movies" in messages[0] and "'/a'" in messages[0] and "'/b'" in messages[0]


def test_nested_identical_and_unset_mappings_are_not_conflicts():
    mappings = [
        M("/data", "/a"),
        M("/data/Movies", "/b"),
        M("/data/Movies", "/b/"),
        M("/data/Movies", None),
    ]
    assert find_conflicts(mappings) == []


def test_uncovered_locations_lists_each_unmapped_root_in_order():
    mappings = [M("/data/Movies", "/mnt/m"), M("/data/TV", None)]
    locations = ["/data/TV", "/data/Movies", "/data/MoviesHD", "/data/Movies/Kids"]
    assert uncovered_locations(locations, mappings) == ["/data/TV", "/data/MoviesHD"]


def test_a_share_is_the_same_whichever_slash_spells_it():
    """Issue 19, item 4: a server reports ``//host/share`` Locations and ``\\\\host\\share``
    files (or the other way round); host and share compare case-insensitively."""
    forward = [M("//GIMMICKY-SERVER/Videos/TV", "/mnt/tv")]
    assert resolve(r"\\gimmicky-server\videos\TV\Show\a.avi", forward) == os.path.join(
        "/mnt/tv", "Show", "a.avi"
    )
    backward = [M(r"\\my-server\Videos", "/mnt/v")]
    assert resolve("//MY-SERVER/Videos/Movies/x.mkv", backward) == os.path.join(
        "/mnt/v", "Movies", "x.mkv"
    )
    assert uncovered_locations(["//MY-SERVER/Videos/Movies"], backward) == []
    assert resolve(r"\\OTHER-SERVER\Videos\x.mkv", backward) is None


def test_a_bare_drive_covers_that_drive_only():
    drive = [M("M:", "/mnt/m")]
    assert resolve(r"M:\Media\Movies\a.mkv", drive) == os.path.join(
        "/mnt/m", "Media", "Movies", "a.mkv"
    )
    assert resolve("m:/Media", drive) == os.path.join("/mnt/m", "Media")
    assert resolve(r"N:\Media\a.mkv", drive) is None
    assert resolve("/M:/a.mkv", drive) is None  # a POSIX folder named "M:" is no drive


def test_three_leading_slashes_stay_posix():
    assert resolve("///data/x.mkv", [M("/data", "/d")]) == os.path.join("/d", "x.mkv")
    assert resolve("//nas/x.mkv", [M("/nas", "/d")]) is None  # a share, not /nas


def test_a_worker_maps_a_stored_path_to_its_own_mount():
    """issue 20: a worker whose mounts differ takes a stored local path back to its upstream path
    through the collection's stored mappings, then forward through its own config's mappings;
    a path its own mappings do not cover is used as stored."""
    from retrovue.importers.pathmap import remapper, unresolve

    stored = [M("/data/media/Movies", "/mnt/nas/Movies")]
    own = [M("/data/media/Movies", "/Volumes/Movies")]
    assert (
        unresolve("/mnt/nas/Movies/A (2001)/a.mkv", stored) == "/data/media/Movies/A (2001)/a.mkv"
    )
    assert unresolve("/mnt/nas/MoviesHD/a.mkv", stored) is None  # whole segments only
    to_local = remapper(stored, own)
    assert to_local("/mnt/nas/Movies/A (2001)/a.mkv") == "/Volumes/Movies/A (2001)/a.mkv"
    assert to_local("/elsewhere/b.mkv") == "/elsewhere/b.mkv"
    # a filesystem source stores no mapping: its local path is its upstream path
    fs = remapper([], [M("/srv/media", "/mnt/media")])
    assert fs("/srv/media/clips/c.mkv") == "/mnt/media/clips/c.mkv"
    assert remapper(stored, [])("/mnt/nas/Movies/a.mkv") == "/mnt/nas/Movies/a.mkv"
