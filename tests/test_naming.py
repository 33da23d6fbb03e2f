"""Title/season/episode/year parsing over real-world file names (DESIGN §9, filesystem)."""

import pytest

from retrovue.importers.naming import parse_media_name

CASES = [
    # stem, parent folders, kind, title, series, season, episode, year
    ("Show - S01E02 - Pilot", (), "episode", "Pilot", "Show", 1, 2, None),
    ("Show.S01E02.720p.HDTV.x264", (), "episode", "Show", "Show", 1, 2, None),
    (
        "The.Office.US.S05E14.Stress.Relief.1080p.WEB-DL",
        (),
        "episode",
        "Stress Relief",
        "The Office US",
        5,
        14,
        None,
    ),
    ("show_s02e10_title", (), "episode", "title", "show", 2, 10, None),
    ("Show 1x02", (), "episode", "Show", "Show", 1, 2, None),
    (
        "Doctor Who 12x05 Fugitive of the Judoon",
        (),
        "episode",
        "Fugitive of the Judoon",
        "Doctor Who",
        12,
        5,
        None,
    ),
    ("S02E05", ("My Show", "Season 02"), "episode", "My Show", "My Show", 2, 5, None),
    # a show's year is its year, not part of its title (from the file name or the folder)
    ("Doctor Who (2005) - S01E01 - Rose", (), "episode", "Rose", "Doctor Who", 1, 1, 2005),
    ("Doctor.Who.2005.S01E01.720p", (), "episode", "Doctor Who", "Doctor Who", 1, 1, 2005),
    (
        "S01E01",
        ("Doctor Who (2005)", "Season 01"),
        "episode",
        "Doctor Who",
        "Doctor Who",
        1,
        1,
        2005,
    ),
    ("1923 S01E01", (), "episode", "1923", "1923", 1, 1, None),
    ("s03e100", ("Long Runner", "Season 3"), "episode", "Long Runner", "Long Runner", 3, 100, None),
    ("Movie (1999)", (), "movie", "Movie", None, None, None, 1999),
    ("The.Matrix.1999.1080p.BluRay", (), "movie", "The Matrix", None, None, None, 1999),
    ("Blade Runner 2049 (2017)", (), "movie", "Blade Runner 2049", None, None, None, 2017),
    ("2001 A Space Odyssey (1968)", (), "movie", "2001 A Space Odyssey", None, None, None, 1968),
    ("Amélie (2001) [1080p]", (), "movie", "Amélie", None, None, None, 2001),
    ("commercial_01", (), "other", "commercial 01", None, None, None, None),
    ("Cola Ad", (), "other", "Cola Ad", None, None, None, None),
    ("1984", (), "other", "1984", None, None, None, None),
]


@pytest.mark.parametrize("stem,parents,kind,title,series,season,episode,year", CASES)
def test_parse_media_name(stem, parents, kind, title, series, season, episode, year):
    parsed = parse_media_name(stem, parents)
    assert (
        parsed.kind,
        parsed.title,
        parsed.series_title,
        parsed.season,
        parsed.episode,
        parsed.year,
    ) == (
        kind,
        title,
        series,
        season,
        episode,
        year,
    )
