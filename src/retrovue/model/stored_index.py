"""A collection's stored assets as a diff needs them: compact enough for a million.

Every plan and apply diffs a listing against the stored assets of its collection.  Held as one
``ExistingAsset`` tuple per asset (four strings and a tuple, ~0.6 KiB), a million stored items
made a no-change plan peak at 673 MiB (issue 23).  This keeps, per asset:

* its ``source_uri``, the key (exact: the listing is looked up by it, and the unseen ones are
  the missing), in a dict to its position;
* at that position, in flat arrays: the hash of its change token and of its canonical path (a
  diff only asks whether they are *equal* to the listed ones), a CRC-32 of the canonical path,
  its missing flag and its id as 16 bytes (turned back into the database's text form only for
  the few assets a diff names).

~200 bytes an asset instead of ~600.  Weighed against it (measured at 1,000,000 Plex episodes):
looking the stored rows up page by page (``source_uri IN (...)`` per listing page) holds one
page, but puts a thousand queries and a database connection into the pure diff and still needs
every seen key to find the missing; a sorted merge needs the listing in ``source_uri`` order,
which no upstream gives (Plex and Jellyfin list by their own ids, folders by name).

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
from zlib import crc32

from retrovue.model.snapshots import ExistingAsset


def path_check(path: str) -> int:
    """The second, independent check of a path beside its ``hash`` (surrogates pass: a hostile
    upstream name may hold them)."""
    return crc32(path.encode("utf-8", "surrogatepass"))


class StoredIndex:
    """``source_uri`` -> position, and per position the flat columns (see the module)."""

    __slots__ = ("positions", "tokens", "canonicals", "checks", "missing", "ids", "dashed")

    def __init__(self, *, dashed: bool = False) -> None:
        self.positions: dict[str, int] = {}
        self.tokens = array("q")
        self.canonicals = array("q")
        self.checks = array("I")
        self.missing = bytearray()
        self.ids = bytearray()  # 16 bytes per asset
        #: ids given back in the dashed form (PostgreSQL's text), else as 32 hex digits (SQLite's)
        self.dashed = dashed

    @classmethod
    def of(cls, rows: Iterable[ExistingAsset | tuple], *, dashed: bool = False) -> StoredIndex:
        """An index of rows ``(source_uri, id, change_token, canonical_uri, missing)``; ``id``
        as text in either form, or a UUID."""
        index = cls(dashed=dashed)
        index.extend(rows)
        return index

    def extend(self, rows: Iterable[tuple]) -> None:
        # one loop of local names: it runs once per stored asset of the collection
        positions = self.positions
        n = len(positions)
        tokens, canonicals = self.tokens.append, self.canonicals.append
        checks, missing, ids = self.checks.append, self.missing.append, self.ids.extend
        fromhex = bytes.fromhex
        for uri, ident, token, canonical, gone in rows:
            positions[uri] = n
            n += 1
            tokens(hash(token))
            canonicals(hash(canonical))
            checks(crc32(canonical.encode("utf-8", "surrogatepass")))
            missing(1 if gone else 0)
            ids(ident.bytes if isinstance(ident, uuid.UUID) else fromhex(ident.replace("-", "")))

    def __len__(self) -> int:
        return len(self.positions)

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
