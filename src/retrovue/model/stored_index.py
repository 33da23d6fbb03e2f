"""A collection's stored assets as a diff needs them: compact enough for a million.

Every plan and apply diffs a listing against the stored assets of its collection.  Held as one
``ExistingAsset`` tuple per asset (four strings and a tuple, ~0.6 KiB), a million stored items
made a no-change plan peak at 673 MiB (issue 23).  This keeps, per asset:

* its ``source_uri``, the key, whole, in a dict to its position: the listing is looked up by it
  exactly, and an unseen asset goes missing unless its URI lies under a folder the upstream
  could not list (a prefix test a hash of it could not answer);
* at that position, in flat arrays: the hash of its change token and of its canonical path (a
  diff only asks whether they are *equal* to the listed ones), a CRC-32 of the canonical path,
  its missing flag and its id as 16 bytes (turned back into the database's text form only for
  the few assets a diff names).

About 250 bytes an asset instead of ~600 (a million rows with 90-character URIs: 237 MiB; the
URI strings and their dict are most of it).  Weighed against it: looking the stored rows up page
by page (``source_uri IN (...)`` per page of the listing) holds one page, but puts a thousand
queries and a database connection into the pure diff, and still has to keep every seen key to
find the missing ones; a sorted merge needs the listing in ``source_uri`` order, which no
upstream gives (media servers list by their own ids, folders by directory).  Keys only, with
hashes of the rest, keep the diff one pass in memory with the same outcomes on both backends.

Equal hashes stand for equal strings: a changed token or path taken for an unchanged one needs a
64-bit collision between the old and the new value of the same asset (2^-64 each).  Where two
*different* assets meet (a new item's path against every stored path) the CRC-32 is checked
too, 96 bits in all.  Python's ``hash`` of a string is salted per process, which is fine: an
index is built and used in one process and never stored.
"""

from __future__ import annotations

import uuid
from array import array
from collections.abc import Iterable, Iterator
from itertools import repeat
from zlib import crc32

from retrovue.model.snapshots import ExistingAsset


def path_check(path: str) -> int:
    """The second, independent check of a path beside its ``hash`` (surrogates pass: a hostile
    upstream name may hold them)."""
    return crc32(path.encode("utf-8", "surrogatepass"))


class StoredIndex:
    """``source_uri`` -> position, and per position the flat columns (see the module)."""

    __slots__ = ("positions", "tokens", "canonicals", "checks", "missing", "ids", "dashed", "paths")

    def __init__(self, *, dashed: bool = False, keep_paths: bool = False) -> None:
        self.positions: dict[str, int] = {}
        self.tokens = array("q")
        self.canonicals = array("q")
        self.checks = array("I")
        self.missing = bytearray()
        self.ids = bytearray()  # 16 bytes per asset
        #: ids given back in the dashed form (PostgreSQL's text), else as 32 hex digits (SQLite's)
        self.dashed = dashed
        #: the canonical paths themselves, kept only for a folder scope's few assets: a move
        #: within the scope is matched by file name (``diff.assets._take_moves``)
        self.paths: list[str] | None = [] if keep_paths else None

    @classmethod
    def of(
        cls,
        rows: Iterable[ExistingAsset | tuple],
        *,
        dashed: bool = False,
        keep_paths: bool = False,
    ) -> StoredIndex:
        """An index of rows ``(source_uri, id, change_token, canonical_uri, missing)``; ``id``
        as text in either form, or a UUID."""
        index = cls(dashed=dashed, keep_paths=keep_paths)
        index.extend(rows)
        return index

    def extend(self, rows: Iterable[tuple]) -> None:
        """Add a batch of rows (a few thousand at most: they are transposed in one go).  Column
        by column through ``map`` in C: a row at a time in Python cost twice the old index's load
        (1.1 against 0.6 µs a row), this about the same."""
        rows = list(rows)
        if not rows:
            return
        uris, ids, tokens, canonicals, missing = zip(*rows, strict=True)
        n = len(self.missing)  # positions count rows (a collection stores each source_uri once)
        self.positions.update(zip(uris, range(n, n + len(uris)), strict=True))
        self.tokens.extend(map(hash, tokens))
        self.canonicals.extend(map(hash, canonicals))
        encoded = map(str.encode, canonicals, repeat("utf-8"), repeat("surrogatepass"))
        self.checks.extend(map(crc32, encoded))
        self.missing.extend(map(bool, missing))
        if self.paths is not None:
            self.paths.extend(canonicals)
        # str() of a UUID is its dashed text, of a text id the text itself; dashes dropped once
        self.ids += bytes.fromhex("".join(map(str, ids)).replace("-", ""))

    def __len__(self) -> int:
        return len(self.missing)

    def __contains__(self, source_uri: str) -> bool:
        return source_uri in self.positions

    def id_at(self, position: int) -> str:
        """The stored id in the database's own text form (what the other readers give)."""
        raw = bytes(self.ids[16 * position : 16 * position + 16])
        return str(uuid.UUID(bytes=raw)) if self.dashed else raw.hex()

    def id_of(self, source_uri: str) -> str | None:
        position = self.positions.get(source_uri)
        return None if position is None else self.id_at(position)

    def present(self) -> int:
        """Stored assets not marked missing."""
        return len(self.missing) - self.missing.count(1)

    def unseen(self, seen: bytearray) -> Iterator[tuple[str, int]]:
        """``(source_uri, position)`` of the present assets ``seen`` (a flag per position) lacks."""
        missing = self.missing
        for uri, position in self.positions.items():
            if not seen[position] and not missing[position]:
                yield uri, position

    def change_of(self, source_uri: str, change_token: str | None, canonical: str) -> str | None:
        """What a listing of ``source_uri`` with this token and path is against the stored one:
        ``created``, ``content`` (its token differs), ``remap`` (only its path), else None."""
        position = self.positions.get(source_uri)
        if position is None:
            return "created"
        if self.tokens[position] != hash(change_token):
            return "content"
        if self.canonicals[position] != hash(canonical):
            return "remap"
        return None
