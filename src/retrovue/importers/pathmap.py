"""Path mapping: turn an upstream (media server) path into a local native path.

Rule: among the mappings that have a ``local_path``, the one whose ``plex_path`` is the longest
prefix of the path *on whole segments* wins (``/data/Movies`` covers ``/data/Movies/x`` but not
``/data/MoviesHD/x``), and only that leading prefix is replaced.  Trailing and doubled separators
are ignored.  Paths from a Windows server (``D:\\Movies``, a bare drive ``M:``, a share
``\\\\nas\\share``) split on either slash and compare case-insensitively, as that file system does;
a share is the same whichever slash spells it (``//nas/share`` is ``\\\\nas\\share``): a server
reports its Locations one way and its files the other.

Pure functions, no I/O: callers decide what a missing local directory means.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence

from retrovue.model.upstream import PathMappingSpec

#: a drive (``M:``, ``M:\\x``, ``M:/x``) or a share (``\\\\host``, ``//host``; three slashes are POSIX)
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:(?:[\\/]|$)|[\\/]{2}(?![\\/]))")


def _is_windows(path: str) -> bool:
    return bool(_WINDOWS_PATH.match(path))


def _segments(path: str) -> tuple[str, ...]:
    """Split an upstream path into comparable segments (empty segments dropped)."""
    if _is_windows(path):
        return tuple(s.casefold() for s in re.split(r"[\\/]+", path) if s)
    return tuple(s for s in path.split("/") if s)


def _raw_segments(path: str) -> list[str]:
    """Segments with their original case, used to build the local remainder."""
    sep = r"[\\/]+" if _is_windows(path) else "/+"
    return [s for s in re.split(sep, path) if s]


def _key(path: str) -> tuple[bool, tuple[str, ...]]:
    """Identity of a ``plex_path``: a POSIX ``/a`` and a Windows ``A:`` never compare equal."""
    return _is_windows(path), _segments(path)


def _usable(mappings: Iterable[PathMappingSpec]) -> list[PathMappingSpec]:
    return [m for m in mappings if m.local_path is not None and m.upstream_path]


def _best_match(path: str, mappings: Sequence[PathMappingSpec]) -> PathMappingSpec | None:
    """The usable mapping with the longest whole-segment prefix of ``path`` (first one on a tie)."""
    windows, segs = _key(path)
    best: PathMappingSpec | None = None
    best_len = -1
    for mapping in _usable(mappings):
        m_windows, m_segs = _key(mapping.upstream_path)
        if m_windows == windows and segs[: len(m_segs)] == m_segs and len(m_segs) > best_len:
            best, best_len = mapping, len(m_segs)
    return best


def resolve(path: str, mappings: Sequence[PathMappingSpec]) -> str | None:
    """Local native path for the upstream ``path``, or None when no mapping covers it."""
    mapping = _best_match(path, mappings)
    if mapping is None:
        return None
    assert mapping.local_path is not None  # _usable() guarantees it
    rest = _raw_segments(path)[len(_segments(mapping.upstream_path)) :]
    local = _normalise_local(mapping.local_path)
    return os.path.join(local, *rest) if rest else local


def unresolve(local: str, mappings: Sequence[PathMappingSpec]) -> str | None:
    """The upstream path a local ``local`` path was mapped from (``resolve``'s inverse): the
    mapping whose local path is the longest whole-segment prefix of it wins.  None when no
    mapping's local path covers it."""
    segs = [s for s in local.split(os.sep) if s]
    best: PathMappingSpec | None = None
    best_len = -1
    for mapping in _usable(mappings):
        assert mapping.local_path is not None  # _usable() guarantees it
        m_segs = [s for s in _normalise_local(mapping.local_path).split(os.sep) if s]
        if segs[: len(m_segs)] == m_segs and len(m_segs) > best_len:
            best, best_len = mapping, len(m_segs)
    if best is None:
        return None
    rest = segs[best_len:]
    # "/" whatever the upstream's system: resolve() splits a Windows path on either slash
    return "/".join([best.upstream_path.rstrip("\\/"), *rest]) if rest else best.upstream_path


def remapper(
    stored: Sequence[PathMappingSpec], own: Sequence[PathMappingSpec]
) -> Callable[[str], str]:
    """For a machine whose mounts differ from the one that ingested: a stored local path back
    to its upstream path through the ``stored`` mappings (a path none covers is its own upstream
    path, as a filesystem source's is), then forward through this machine's ``own``.  A path
    ``own`` does not cover is used as stored."""
    usable = _usable(own)
    if not usable:
        return lambda path: path

    def to_local(path: str) -> str:
        upstream = unresolve(path, stored) or path
        return resolve(upstream, usable) or path

    return to_local


def canonical_mapper(
    uses_path_mappings: bool, mappings: Iterable[PathMappingSpec]
) -> Callable[[str], str | None] | None:
    """The upstream-path -> local-path function of an importer, or None when its paths are
    already local.  Mappings without a local path map nothing."""
    if not uses_path_mappings:
        return None
    usable = _usable(mappings)
    return lambda path: resolve(path, usable)


def find_conflicts(mappings: Sequence[PathMappingSpec]) -> list[str]:
    """Messages for mappings the longest-prefix rule cannot order.

    Nested prefixes are always ordered (the longer wins), so the only ambiguity is the same
    ``plex_path`` (after normalisation) mapped to different local paths.  Repeating an identical
    mapping is harmless and not reported.
    """
    locals_by_key: dict[tuple[bool, tuple[str, ...]], list[PathMappingSpec]] = {}
    for mapping in _usable(mappings):
        locals_by_key.setdefault(_key(mapping.upstream_path), []).append(mapping)
    messages = []
    for group in locals_by_key.values():
        targets = sorted({_normalise_local(m.local_path or "") for m in group})
        if len(targets) > 1:
            shown = " and ".join(quoted(t) for t in targets)
            messages.append(
                f"plex_path {quoted(group[0].upstream_path)} is mapped to {len(targets)} different "
                f"local paths ({shown}); keep one"
            )
    return messages


def uncovered_locations(locations: Iterable[str], mappings: Sequence[PathMappingSpec]) -> list[str]:
    """The upstream locations (section roots) that no mapping with a local_path covers."""
    return [loc for loc in locations if _best_match(loc, mappings) is None]


def locations_ingestible(
    name: str,
    locations: Sequence[str],
    mappings: Sequence[PathMappingSpec],
    *,
    server: str,
    container: str,
) -> tuple[bool, str | None]:
    """A media server's library is ingestible when every one of its locations maps to a
    readable local directory (no server contact).  ``server`` and ``container`` name them as the
    operator knows them (a server's display name; "section", "library")."""
    conflicts = find_conflicts(mappings)
    if conflicts:
        return False, "; ".join(conflicts)
    if not locations:
        return False, f"{container} {quoted(name)} reports no locations"
    uncovered = uncovered_locations(locations, mappings)
    if uncovered:
        names = ", ".join(quoted(u) for u in uncovered)
        return False, f"no path mapping with a local_path covers the {server} location(s) {names}"
    for location in locations:
        local = resolve(location, mappings) or ""
        where = f"local path {quoted(local)} for {server} location {quoted(location)}"
        if not os.path.isdir(local):
            return False, f"{where} is not a directory"
        if not os.access(local, os.R_OK | os.X_OK):
            return False, f"{where} is not readable"
    return True, None


def quoted(path: str) -> str:
    """A path for a message, as the operator typed it: ``repr`` would double a Windows path's
    backslashes (``'M:\\\\Media'``), which then matches nothing they can copy."""
    return f"'{path}'"


def _normalise_local(path: str) -> str:
    return os.path.normpath(path) if path else path
