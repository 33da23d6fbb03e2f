"""Title, season, episode and year from common media file names (for the filesystem importer).

Understood forms: ``Show/Season 01/Show - S01E02 - Title.mkv``, ``Show.S01E02.720p.mkv``,
``Show 1x02.mkv`` and ``Movie (1999).mkv`` / ``Movie.1999.1080p.mkv``; a show's year, in its
folder (``Doctor Who (2005)/Season 01/…``) or its file names, is its ``year``, not part of its
title.  Local extras (the naming media servers share) are ``extra`` items (see ``EXTRA_FOLDERS``).  Anything else is an
``other`` item titled after its file name.  The regexes run once per file: they measured under 20%
of the cost of a directory scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SXXEYY = re.compile(r"[Ss](\d{1,3})[ ._-]?[Ee](\d{1,4})")
_NXNN = re.compile(r"(?<![\dA-Za-z])(\d{1,2})x(\d{2,3})(?![\dA-Za-z])")
_YEAR_PAREN = re.compile(r"[(\[]((?:19|20)\d{2})[)\]]")
_YEAR_BARE = re.compile(r"(?<![\dA-Za-z])((?:19|20)\d{2})(?![\dA-Za-z])")
_SEASON_DIR = re.compile(r"^(?:season|series|staffel|saison)[ ._-]*(\d{1,3})$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[._]+")
_TRAILING_JUNK = re.compile(r"[\s\-–—:,]+$")
# Release tags end the meaningful part of a scene-style name ("Show.S01E02.720p.HDTV.x264").
_RELEASE_TAGS = re.compile(
    r"(?i)(?:^|[ ._\-\[(])(?:480p|576p|720p|1080[pi]|2160p|4k|uhd|hdtv|web[ ._-]?dl|webrip|bluray|"
    r"brrip|dvdrip|hdrip|x264|x265|h[ .]?264|h[ .]?265|hevc|xvid|proper|repack|remux)(?:$|[ ._\-\])]).*$"
)


#: the local-extras folders media servers read, case-insensitive, -> the extra's type.  They count inside a
#: title's folder (``Movie (1999)/Trailers/…``), as media servers read them: a folder of the collection
#: itself named ``Other`` or ``Shorts`` is more likely a shelf of titles than one title's extras
EXTRA_FOLDERS = {
    "trailers": "trailer",
    "featurettes": "featurette",
    "behind the scenes": "behindthescenes",
    "deleted scenes": "deleted",
    "interviews": "interview",
    "scenes": "scene",
    "shorts": "short",
    "other": "other",
    "extras": "other",
}
#: inline extras: a name ending ``-trailer``, ``-featurette``, … (case-insensitive)
EXTRA_SUFFIXES = frozenset(
    ("trailer", "featurette", "behindthescenes", "deleted", "interview", "scene", "short", "other")
)
# every file of a first ingest is asked whether it is an extra: a name whose length no extras
# word has is answered without case-folding it (which cost more than the rest of the check)
_FOLDER_LENGTHS = frozenset(map(len, EXTRA_FOLDERS))
_SUFFIX_LENGTHS = frozenset(map(len, EXTRA_SUFFIXES))


@dataclass(frozen=True, slots=True)
class ParsedName:
    kind: str  # movie | episode | extra | other
    title: str
    series_title: str | None = None
    season: int | None = None
    episode: int | None = None
    year: int | None = None  # a movie's, a show's, or the year of the title an extra belongs to
    extra_type: str | None = None  # trailer, featurette, … (the convention's names)
    extra_of: str | None = None  # the title an extra belongs to, when its folders tell


def _clean(text: str) -> str:
    if " " not in text.strip():
        text = _SEPARATORS.sub(" ", text)
    return _TRAILING_JUNK.sub("", text.strip()).strip()


def parse_media_name(stem: str, parent_dirs: tuple[str, ...] = ()) -> ParsedName:
    """Parse a file stem (no extension); ``parent_dirs`` are the enclosing folder names, nearest last."""
    extra = _extra(stem, parent_dirs)
    if extra is not None:
        return extra
    match = _SXXEYY.search(stem) or _NXNN.search(stem)
    if match:
        season, episode = int(match.group(1)), int(match.group(2))
        series = _clean(stem[: match.start()])
        rest = _clean(_RELEASE_TAGS.sub("", stem[match.end() :]).lstrip(" .-_"))
        if not series:
            series = _series_from_dirs(parent_dirs) or ""
        series, year = split_year(series)
        return ParsedName(
            kind="episode",
            title=rest or series or stem,
            series_title=series or None,
            season=season,
            episode=episode,
            year=year,
        )
    title, year = split_year(stem)
    if year is not None:
        return ParsedName(kind="movie", title=title, year=year)
    return ParsedName(kind="other", title=_clean(stem) or stem)


def split_year(text: str) -> tuple[str, int | None]:
    """``Movie (1999) [1080p]`` -> (``Movie``, 1999): the title before the first year that does
    not open the text; a text without one is returned as it is, with no year."""
    if "19" not in text and "20" not in text:  # most titles: no regex at all (a first ingest
        return text, None  # parses every file; two searches cost 40% of a parse)
    match = _YEAR_PAREN.search(text) or _YEAR_BARE.search(text)
    if match and match.start() > 0:
        title = _clean(text[: match.start()].rstrip(" ([").rstrip())
        if title:
            return title, int(match.group(1))
    return text, None


def _series_from_dirs(parent_dirs: tuple[str, ...]) -> str | None:
    """For ``Show/Season 01/E02.mkv`` the series is the folder above the season folder."""
    dirs = list(parent_dirs)
    if dirs and _SEASON_DIR.match(dirs[-1]):
        dirs.pop()
    return _clean(dirs[-1]) if dirs else None


def _extra(stem: str, parent_dirs: tuple[str, ...]) -> ParsedName | None:
    """A local extra: a file in an extras folder inside a title's folder, or one named
    ``Name-trailer`` (``-featurette``, …); None: not an extra."""
    for depth in range(len(parent_dirs) - 1, 0, -1):  # nearest first; depth 0 is a shelf
        folder = parent_dirs[depth]
        if len(folder) in _FOLDER_LENGTHS and folder.casefold() in EXTRA_FOLDERS:
            extra_type = EXTRA_FOLDERS[folder.casefold()]
            return _extra_of(extra_type, _clean(stem) or stem, parent_dirs[:depth])
    dash = stem.rfind("-")
    if dash <= 0 or len(stem) - dash - 1 not in _SUFFIX_LENGTHS:
        return None
    suffix = stem[dash + 1 :].lower()
    if suffix not in EXTRA_SUFFIXES:
        return None
    return _extra_of(suffix, _clean(stem[:dash]) or stem, parent_dirs)


def _extra_of(extra_type: str, name: str, owner_dirs: tuple[str, ...]) -> ParsedName:
    """The extra called ``name``, belonging to the title whose folder holds it (a season
    folder stands for its show); with no folder, ``name`` itself names that title, as in
    ``Movie (1999)-trailer.mkv`` lying beside the movie."""
    owner = _series_from_dirs(owner_dirs)
    title, year = split_year(owner if owner is not None else name)
    return ParsedName(
        kind="extra",
        title=name if owner is not None else title,
        year=year,
        extra_type=extra_type,
        extra_of=title or None,
    )
