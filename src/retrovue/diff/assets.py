"""Compare a collection's upstream items with its stored assets.

Pure: no database, no network.  The plan uses the counts; the executor uses the lists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from retrovue.gc_pause import cyclic_gc_paused
from retrovue.model.actions import AssetDetail, SkipReason
from retrovue.model.counts import IngestCounts
from retrovue.model.stored_index import StoredIndex, path_check
from retrovue.model.upstream import NOT_OFFERED, UNLISTED_FOLDER, UpstreamAsset
from retrovue.spill import Spill

UNMAPPED_REASON = "no path mapping covers the file"
OWN_DATABASE_REASON = "this catalogue's own database file"

#: paths shown per kind of change with ``--detail``; the rest is counted ("and N more") so a
#: collection with 100,000 new files still makes a plan a reviewer can read
DETAIL_CAP = 10


_make = tuple.__new__


def new_items() -> Spill[tuple[UpstreamAsset, str]]:
    """``(item, canonical)`` pairs, spilled to a private file past one batch (retrovue.spill)."""
    return Spill(lambda p: (tuple(p[0]), p[1]), lambda t: (_make(UpstreamAsset, t[0]), t[1]))


def changed_items() -> Spill[tuple[uuid.UUID | str, UpstreamAsset, str]]:
    """``(stored id, item, canonical)`` triples, spilled likewise."""
    return Spill(
        lambda t: (t[0], tuple(t[1]), t[2]), lambda t: (t[0], _make(UpstreamAsset, t[1]), t[2])
    )


def bare(item: UpstreamAsset) -> UpstreamAsset:
    """What a plan keeps of a new or changed item: its identity, file and change token (a plan
    counts and names them; the executor diffs its own listing)."""
    return UpstreamAsset(item.source_uri, item.path, item.size, item.change_token, item.kind)


@dataclass
class AssetDiff:
    """The outcome of one diff.  ``new`` and ``changed`` can hold every item of a collection
    (a first ingest, a library whose every file changed): they are ``Spill`` lists, read back
    in listing order, so a million of them do not live in memory."""

    new: Spill[tuple[UpstreamAsset, str]] = field(default_factory=new_items)
    changed: Spill[tuple[uuid.UUID | str, UpstreamAsset, str]] = field(
        default_factory=changed_items
    )
    remapped: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    #: stored assets found at another path of a folder scope (a folder moved within the
    #: collection): ``(stored id, item, canonical)``, kept with their id (counted as remapped)
    moved: list[tuple[uuid.UUID | str, UpstreamAsset, str]] = field(default_factory=list)
    reappeared: list[uuid.UUID] = field(default_factory=list)
    missing: list[uuid.UUID] = field(default_factory=list)
    discovered: int = 0
    unchanged: int = 0
    duplicates: int = 0
    unmapped: int = 0
    unmapped_example: str | None = None
    #: items the upstream could not give us in a storable form: reason -> (count, example)
    unusable: dict[str, tuple[int, str]] = field(default_factory=dict)
    #: source_uri prefixes of folders the upstream could not list: what is stored under them
    #: was not seen, but is not missing either
    unlisted: list[str] = field(default_factory=list)
    degraded: bool = False
    degraded_reason: str | None = None
    missing_suppressed: int = 0
    #: the assets the guard kept from going missing (``--detail`` names them)
    suppressed: list[uuid.UUID] = field(default_factory=list)
    #: the paths of duplicates and unmapped items, kept only for ``--detail`` (None: not asked)
    duplicate_paths: list[str] | None = None
    unmapped_paths: list[str] | None = None

    def counts(self) -> IngestCounts:
        return IngestCounts(
            discovered=self.discovered,
            new=len(self.new),
            changed=len(self.changed),
            remapped=len(self.remapped) + len(self.moved),
            unchanged=self.unchanged,
            missing=len(self.missing),
            reappeared=len(self.reappeared),
            duplicates=self.duplicates,
            unmapped=self.unmapped,
            missing_suppressed=self.missing_suppressed,
            unusable=sum(n for n, _ in self.unusable.values()),
        )

    def skip(self, reason: str, example: str) -> None:
        """Count an item that is not stored, under its reason (the first one is the example)."""
        count, first = self.unusable.get(reason, (0, example))
        self.unusable[reason] = (count + 1, first)

    def skip_unusable(self, item: UpstreamAsset, shown_path: str) -> None:
        """An item the upstream could not give in a storable form; a folder it could not list
        also keeps what is stored under it from going missing."""
        self.skip(item.problem, shown_path)
        if item.kind == UNLISTED_FOLDER:
            self.unlisted.append(item.source_uri)

    def unmap(self, path: str) -> None:
        """An item no path mapping covers (named by its upstream path: there is no local one)."""
        self.unmapped += 1
        if self.unmapped_example is None:
            self.unmapped_example = path
        if self.unmapped_paths is not None:
            self.unmapped_paths.append(path)

    def duplicate(self, path: str, to_canonical: Callable[[str], str | None] | None) -> None:
        self.duplicates += 1
        if self.duplicate_paths is not None:
            self.duplicate_paths.append(_local(path, to_canonical))

    def skip_reasons(self) -> tuple[SkipReason, ...]:
        reasons = [SkipReason(why, n, example) for why, (n, example) in self.unusable.items()]
        if self.unmapped:
            reasons.append(SkipReason(UNMAPPED_REASON, self.unmapped, self.unmapped_example or ""))
        return tuple(reasons)


@cyclic_gc_paused()
def diff_assets(
    existing: StoredIndex,
    upstream: Iterable[UpstreamAsset],
    *,
    to_canonical: Callable[[str], str | None] | None = None,
    full_scope: bool = True,
    missing_threshold: float = 0.2,
    allow_mass_missing: bool = False,
    on_item: Callable[[], None] | None = None,
    describe: Callable[[UpstreamAsset], UpstreamAsset] | None = None,
    keep_paths: bool = False,
    own_files: frozenset[str] = frozenset(),
    keep_items: bool = True,
    scope_present: int | None = None,
) -> AssetDiff:
    """One pass over the upstream items against the stored index.

    ``to_canonical`` maps an upstream path to the local path (None: no mapping covers it); without
    it the upstream path is already local.  ``full_scope`` is False for a narrowed ingest, which
    never marks anything missing.  ``describe`` completes the changed items; new ones are left
    as listed, for the writer to complete one batch at a time (``execute.ingest.write_diff``):
    a first ingest of a million files never holds a completed copy of every one.
    ``keep_paths`` also records the paths of duplicates and unmapped items (for ``--detail``).
    ``own_files`` are the local paths of the database's own files in this collection: counted
    as skipped, never written (every write changes them, so they would never converge).
    ``keep_items`` False (a plan's diff) keeps only ``bare`` new and changed items.
    ``scope_present``: ``existing`` (and the listing) cover only a folder scope of the
    collection, which holds this many present assets in all (see ``_mark_missing``).
    The listing is consumed here, so the whole pass runs with the cyclic GC paused.

    Memory: the listing is read one item at a time; what lives to the end is the stored index
    (compact: ``retrovue.model.stored_index``), a byte per stored asset saying it was listed,
    the URIs of the listed items not stored, the new and changed items (spilled to a file, ``AssetDiff``) and a hash of each
    new item's canonical path (``_NewPaths``), not the items themselves.
    """
    diff = AssetDiff()
    if keep_paths:
        diff.duplicate_paths, diff.unmapped_paths = [], []
    # what was listed: a flag per stored asset (by its index position), the URIs of the others
    seen_stored, seen = bytearray(len(existing)), set()
    known_seen = discovered = unchanged = 0  # plain locals: this loop runs once per item
    candidates, paths = new_items(), _NewPaths()
    changed = diff.changed
    keep = _same if keep_items else bare
    position_of = existing.positions.get
    tokens, canonicals, was_missing = existing.tokens, existing.canonicals, existing.missing
    for item in upstream:
        if on_item is not None:
            on_item()
        discovered += 1
        if item.kind == NOT_OFFERED:  # counted, and left unseen: what is stored goes missing
            diff.skip(item.problem or NOT_OFFERED, item.path)
            continue
        uri = item.source_uri
        at = position_of(uri)
        if at is None:
            if uri in seen:  # the upstream listed the same item twice
                diff.duplicate(item.path, to_canonical)
                continue
            seen.add(uri)
        elif seen_stored[at]:
            diff.duplicate(item.path, to_canonical)
            continue
        else:
            seen_stored[at] = 1
        if item.problem is not None:
            diff.skip_unusable(item, _local(item.path, to_canonical))
            continue
        if to_canonical is None:
            canonical = item.path
        else:
            canonical = to_canonical(item.path)
            if canonical is None:
                diff.unmap(item.path)
                continue
        if own_files and canonical in own_files:
            diff.skip(OWN_DATABASE_REASON, canonical)
            continue
        if at is None:
            candidates.append((keep(item), canonical))
            paths.add(canonical)
            continue
        known_seen += 1
        # equal hashes stand for equal strings (retrovue.model.stored_index); the same test
        # as ``StoredIndex.change_of``, spelt out here as it runs once per listed item
        if was_missing[at]:
            diff.reappeared.append(existing.id_at(at))
        if tokens[at] != hash(item.change_token):
            changed.append(
                (existing.id_at(at), keep(describe(item) if describe else item), canonical)
            )
        elif canonicals[at] != hash(canonical):
            diff.remapped.append((existing.id_at(at), canonical))
        else:
            unchanged += 1
    diff.discovered, diff.unchanged = discovered, unchanged
    if full_scope and known_seen < len(existing):  # else every stored asset was seen: none missing
        if scope_present is not None and len(candidates):
            candidates = _take_moves(diff, existing, seen_stored, candidates, describe)
        _mark_missing(
            diff, existing, seen_stored, missing_threshold, allow_mass_missing, scope_present
        )
    del seen, seen_stored  # freed before the new items are written: a first ingest's peak
    if candidates:
        _take_new(diff, existing, candidates, paths)
    return diff


def _take_moves(
    diff: AssetDiff,
    existing: StoredIndex,
    seen: bytearray,
    candidates: Spill[tuple[UpstreamAsset, str]],
    describe: Callable[[UpstreamAsset], UpstreamAsset] | None,
) -> Spill[tuple[UpstreamAsset, str]]:
    """Under a folder scope, a new item that is a present stored asset not seen any more, by
    file name and change token (a rename keeps a file's size and mtime), is that asset moved:
    a folder moved within the collection keeps its assets (ids, facts, approvals) instead of
    going missing and coming back new.  Only one-to-one matches count; anything ambiguous
    stays new and missing.  Returns the candidates left new.  Needs the stored paths
    (``StoredIndex.paths``, kept for a scope's few assets); without them nothing is a move."""
    stored_paths = existing.paths
    if stored_paths is None:
        return candidates
    unlisted = tuple(diff.unlisted)
    gone: dict[tuple[str, int], list[int]] = {}
    for uri, at in existing.unseen(seen):
        if unlisted and uri.startswith(unlisted):
            continue
        gone.setdefault((_name(stored_paths[at]), existing.tokens[at]), []).append(at)
    if not gone:
        return candidates
    wanted: dict[tuple[str, int], int] = {}
    for item, canonical in candidates:
        key = (_name(canonical), hash(item.change_token))
        if key in gone:
            wanted[key] = wanted.get(key, 0) + 1
    left = new_items()
    for item, canonical in candidates:
        key = (_name(canonical), hash(item.change_token))
        stored = gone.get(key)
        if stored is not None and len(stored) == 1 and wanted[key] == 1:
            at = stored[0]
            seen[at] = 1
            diff.moved.append((existing.id_at(at), describe(item) if describe else item, canonical))
        else:
            left.append((item, canonical))
    candidates.close()
    return left


def _name(path: str) -> str:
    return path[path.rfind("/") + 1 :]


def _same(item: UpstreamAsset) -> UpstreamAsset:
    return item


class _NewPaths:
    """The canonical paths of the new items, as their hashes: tells in ~50 bytes per item
    (not ~180 for the path) whether two of them, or one and a stored asset, may share a path.
    A hash is only a suspect: ``_take_new`` compares the real paths of the suspects."""

    def __init__(self) -> None:
        self.hashes: set[int] = set()
        self.suspects: set[int] = set()

    def add(self, canonical: str) -> None:
        h = hash(canonical)
        if h in self.hashes:
            self.suspects.add(h)
        else:
            self.hashes.add(h)


def _local(path: str, to_canonical: Callable[[str], str | None] | None) -> str:
    """A path as the operator finds it here: mapped where a mapping covers it (a plan names new
    files by their local path, so duplicates and skips must not name server paths)."""
    local = to_canonical(path) if to_canonical is not None else None
    return local if local is not None else path


def _take_new(
    diff: AssetDiff,
    existing: StoredIndex,
    candidates: Spill[tuple[UpstreamAsset, str]],
    paths: _NewPaths,
) -> None:
    """Items not stored yet become new, unless their canonical_uri is already held: such an
    item is a duplicate, and the smallest source_uri wins, so which item is kept does not depend
    on the upstream's listing order."""
    hashes = paths.hashes
    # the stored paths new items may share (hashes match), as (hash, CRC-32): the stored index
    # keeps no path, and the CRC tells a stored path from one merely of the same hash
    missing, checks = existing.missing, existing.checks
    shared = hashes.intersection(existing.canonicals)  # in C: most often none
    taken = (
        {
            (h, checks[at])
            for at, h in enumerate(existing.canonicals)
            if h in shared and not missing[at]
        }
        if shared
        else set()
    )
    suspects = paths.suspects | {h for h, _check in taken}
    del paths
    if not suspects:
        # no collision (the common case, e.g. every first ingest): all are new, and the order
        # decides nothing, so 100,000 candidates are neither sorted nor checked one by one
        diff.new = candidates
        return
    # the winner of each shared path: one more pass over the suspects' real paths
    winner: dict[str, str] = {}
    for item, canonical in candidates:
        h = hash(canonical)
        if h in suspects and (h, path_check(canonical)) not in taken:
            best = winner.get(canonical)
            if best is None or item.source_uri < best:
                winner[canonical] = item.source_uri
    for item, canonical in candidates:
        if hash(canonical) not in suspects or winner.get(canonical) == item.source_uri:
            diff.new.append((item, canonical))
        else:
            diff.duplicates += 1
            if diff.duplicate_paths is not None:
                diff.duplicate_paths.append(canonical)
    candidates.close()


def _mark_missing(
    diff: AssetDiff,
    existing: StoredIndex,
    seen: bytearray,
    threshold: float,
    allow: bool,
    scope_present: int | None = None,
) -> None:
    """Mark the stored assets the listing did not see missing, unless the mass-missing guard
    holds.  Under a folder scope (``scope_present``: the whole collection's present count) the
    guard's fraction is of the whole collection, not of the scope: the guard protects the
    collection from a listing that lost a mount, and a folder deleted on purpose is 100 % of
    its own scope (a scope fraction would hold every folder deletion until a resync, which
    would then apply it anyway), while a deletion too large for the collection is held as a
    whole listing would hold it.  An empty scoped listing is no sign of a failed upstream (the
    folder may be gone); an unreadable collection root still fails the listing itself."""
    present = existing.present()
    present_count = present if scope_present is None else max(scope_present, present)
    unlisted = tuple(diff.unlisted)
    gone = [
        existing.id_at(at)
        for uri, at in existing.unseen(seen)
        if not (unlisted and uri.startswith(unlisted))
    ]
    if not gone:
        return
    if diff.discovered == 0 and scope_present is None:
        diff.degraded, diff.degraded_reason = (
            True,
            "the upstream returned no items for a non-empty collection",
        )
    elif len(gone) > threshold * present_count:
        diff.degraded = True
        diff.degraded_reason = (
            f"{len(gone):,} of {present_count:,} assets ({len(gone) / present_count:.0%}) would go missing, "
            f"above the {threshold:.0%} threshold"
        )
    if diff.degraded and not allow:
        diff.missing_suppressed = len(gone)
        diff.suppressed = gone
        return
    diff.missing = gone


def asset_detail(
    diff: AssetDiff,
    stored_paths: Callable[[list[uuid.UUID | str]], dict[str, str]],
    cap: int = DETAIL_CAP,
) -> tuple[AssetDetail, ...]:
    """Which files each kind of change touches, at most ``cap`` paths per kind (sorted, so the
    same state gives the same plan), with the full count.  Missing and reappeared assets are
    stored ids: ``stored_paths`` reads their paths (id as text -> canonical path; the stored
    index keeps none)."""
    named = [*diff.reappeared, *diff.missing, *diff.suppressed]
    stored = stored_paths(named) if named else {}
    kinds = (
        ("new", [canonical for _item, canonical in diff.new]),
        ("changed", [canonical for _id, _item, canonical in diff.changed]),
        (
            "remapped",
            [canonical for _id, canonical in diff.remapped]
            + [canonical for _id, _item, canonical in diff.moved],
        ),
        ("reappeared", [stored[i] for i in diff.reappeared]),
        ("missing", [stored[i] for i in diff.missing]),
        ("suppressed", [stored[i] for i in diff.suppressed]),
        ("duplicate", diff.duplicate_paths or []),
        ("unmapped", diff.unmapped_paths or []),
    )
    return tuple(
        AssetDetail(kind, len(paths), tuple(sorted(paths)[:cap])) for kind, paths in kinds if paths
    )
