"""The catalogue's own database files, as a listing of a collection would name them.

A SQLite database kept inside a media folder changes on every apply (the file, its WAL and
journal): listed as media it would be ingested, then changed, on every run, and the catalogue
would never converge.  The diff skips these paths (``diff.assets.OWN_DATABASE_REASON``); this
module finds which of them a collection holds, spelt through the collection's own roots, so a
root reached through a symlink still matches the paths its listing gives.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from retrovue.model.upstream import PathMappingSpec


def local_roots(
    uses_path_mappings: bool, locations: Iterable[str], mappings: Iterable[PathMappingSpec]
) -> list[str]:
    """The local folders a collection's items are under: its mappings' local paths when the
    importer's paths need mapping, else its locations (already local)."""
    if uses_path_mappings:
        return [m.local_path for m in mappings if m.local_path]
    return list(locations)


def own_files_within(files: frozenset[str], roots: Iterable[str]) -> frozenset[str]:
    """Those of ``files`` (real paths) under one of ``roots``, each as the path through that
    root; empty at once when there are no such files (a PostgreSQL database)."""
    if not files:
        return frozenset()
    found = set()
    for root in roots:
        real_root = os.path.realpath(root)
        for path in files:
            if os.path.commonpath((real_root, path)) == real_root:
                found.add(os.path.join(root, os.path.relpath(path, real_root)))
    return frozenset(found)
