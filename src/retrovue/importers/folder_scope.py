"""Folder scopes: which part of a collection a `watch` event's ingest covers.

A scope is a set of local paths, each standing for itself and all it holds (a folder, or a path
that is gone: what was stored at or under it).  It is only ever a strict part of one
collection: a path that is a collection's root, or lies outside its roots, makes the honest
scope the whole collection, never a smaller one.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

#: more folders than this in one scope (a whole season's burst spread over a library) are
#: listed as the whole collection: about as cheap by then, and each folder is two bound
#: values of the asset index's SELECT, kept well under any SQLite build's limit (999)
MAX_FOLDERS = 200


def is_within(path: str, root: str) -> bool:
    """``path`` is ``root`` or lies under it (by name: no symlink is resolved)."""
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def outermost(paths: Iterable[str]) -> tuple[str, ...]:
    """The paths, in order, without those inside another one (listed once, through their
    outer).  Sorted by components, a path's descendants follow it directly, so each is only
    compared with the last one kept (a burst of 10,000 deletions is 10,000 paths)."""
    out: list[str] = []
    for path in sorted(set(paths), key=lambda p: p.split(os.sep)):
        if not (out and is_within(path, out[-1])):
            out.append(path)
    return tuple(out)


def scope_within(paths: Iterable[str], roots: Iterable[str]) -> tuple[str, ...] | None:
    """``paths`` as a scope of the collection whose local folders are ``roots``; None when no
    smaller scope is honest: a path that is not absolute, is a root itself or lies outside
    every root (then the whole collection is ingested)."""
    roots = [os.path.normpath(r) for r in roots]
    kept = []
    for path in paths:
        if not os.path.isabs(path):
            return None
        path = os.path.normpath(path)
        if not any(is_within(path, r) and path != r for r in roots):
            return None
        kept.append(path)
    scope = outermost(kept)
    return scope if 0 < len(scope) <= MAX_FOLDERS else None


def scope_problem(paths: tuple[str, ...], roots: Iterable[str]) -> str | None:
    """Why ``paths`` is not a valid scope of a collection under ``roots`` as a plan holds it
    (a saved plan crosses a trust boundary: the executor checks it again); None: it is."""
    if not paths:
        return "its folder scope names no folder"
    if len(paths) > MAX_FOLDERS:
        return f"its folder scope names {len(paths)} folders, more than {MAX_FOLDERS}"
    roots = [os.path.normpath(r) for r in roots]
    for path in paths:
        if not os.path.isabs(path) or os.path.normpath(path) != path:
            return f"its folder scope names '{path}', which is not a plain absolute path"
        if not any(is_within(path, r) and path != r for r in roots):
            return f"its folder scope names '{path}', which is not inside the collection's folders"
    return None
