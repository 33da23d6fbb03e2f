"""Compare a collection's upstream items with its stored assets.

Pure: no database, no network.  The plan uses the counts; the executor uses the lists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from retrovue.model.actions import SkipReason
from retrovue.model.counts import IngestCounts
from retrovue.model.snapshots import ExistingAsset
from retrovue.model.upstream import UpstreamAsset

UNMAPPED_REASON = "no path mapping covers the file"


@dataclass
class AssetDiff:
    new: list[tuple[UpstreamAsset, str]] = field(default_factory=list)
    changed: list[tuple[uuid.UUID, UpstreamAsset, str]] = field(default_factory=list)
    remapped: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    reappeared: list[uuid.UUID] = field(default_factory=list)
    missing: list[uuid.UUID] = field(default_factory=list)
    discovered: int = 0
    unchanged: int = 0
    duplicates: int = 0
    unmapped: int = 0
    unmapped_example: str | None = None
    #: items the upstream could not give us in a storable form: reason -> (count, example)
    unusable: dict[str, tuple[int, str]] = field(default_factory=dict)
    degraded: bool = False
    degraded_reason: str | None = None
    missing_suppressed: int = 0

    def counts(self) -> IngestCounts:
        return IngestCounts(
            discovered=self.discovered,
            new=len(self.new),
            changed=len(self.changed),
            remapped=len(self.remapped),
            unchanged=self.unchanged,
            missing=len(self.missing),
            reappeared=len(self.reappeared),
            duplicates=self.duplicates,
            unmapped=self.unmapped,
            missing_suppressed=self.missing_suppressed,
            unusable=sum(n for n, _ in self.unusable.values()),
        )

    def skip_reasons(self) -> tuple[SkipReason, ...]:
        reasons = [SkipReason(why, n, example) for why, (n, example) in self.unusable.items()]
        if self.unmapped:
            reasons.append(SkipReason(UNMAPPED_REASON, self.unmapped, self.unmapped_example or ""))
        return tuple(reasons)


def diff_assets(
    existing: dict[str, ExistingAsset],
    upstream: Iterable[UpstreamAsset],
    *,
    to_canonical: Callable[[str], str | None] | None = None,
    full_scope: bool = True,
    missing_threshold: float = 0.2,
    allow_mass_missing: bool = False,
    on_item: Callable[[], None] | None = None,
    describe: Callable[[UpstreamAsset], UpstreamAsset] | None = None,
) -> AssetDiff:
    """One pass over the upstream items against the stored index.

    ``to_canonical`` maps an upstream path to the local path (None: no mapping covers it); without
    it the upstream path is already local.  ``full_scope`` is False for a narrowed ingest, which
    never marks anything missing.  ``describe`` completes the items that will be written.
    """
    diff = AssetDiff()
    seen: set[str] = set()
    known_seen = 0
    candidates: list[tuple[UpstreamAsset, str]] = []
    get = existing.get
    for item in upstream:
        if on_item is not None:
            on_item()
        diff.discovered += 1
        uri = item.source_uri
        if uri in seen:
            diff.duplicates += 1  # the upstream listed the same item twice
            continue
        seen.add(uri)
        if item.problem is not None:
            count, example = diff.unusable.get(item.problem, (0, item.path))
            diff.unusable[item.problem] = (count + 1, example)
            continue
        if to_canonical is None:
            canonical = item.path
        else:
            canonical = to_canonical(item.path)
            if canonical is None:
                diff.unmapped += 1
                if diff.unmapped_example is None:
                    diff.unmapped_example = item.path
                continue
        known = get(uri)
        if known is None:
            candidates.append((item, canonical))
            continue
        known_seen += 1
        if known.missing:
            diff.reappeared.append(known.id)
        if known.change_token != item.change_token:
            diff.changed.append((known.id, describe(item) if describe else item, canonical))
        elif known.canonical_uri != canonical:
            diff.remapped.append((known.id, canonical))
        else:
            diff.unchanged += 1

    # a new item whose canonical_uri is already held is a duplicate; the smallest source_uri wins,
    # so which item is kept does not depend on the upstream's listing order
    taken = {a.canonical_uri for a in existing.values() if not a.missing} if candidates else set()
    candidates.sort(key=lambda pair: pair[0].source_uri)
    for item, canonical in candidates:
        if canonical in taken:
            diff.duplicates += 1
        else:
            taken.add(canonical)
            diff.new.append((describe(item) if describe else item, canonical))

    if full_scope and known_seen < len(existing):  # else every stored asset was seen: none missing
        _mark_missing(diff, existing, seen, missing_threshold, allow_mass_missing)
    return diff


def _mark_missing(
    diff: AssetDiff,
    existing: dict[str, ExistingAsset],
    seen: set[str],
    threshold: float,
    allow: bool,
) -> None:
    present = [a for a in existing.values() if not a.missing]
    gone = [a.id for uri, a in existing.items() if not a.missing and uri not in seen]
    if not gone:
        return
    if diff.discovered == 0:
        diff.degraded, diff.degraded_reason = (
            True,
            "the upstream returned no items for a non-empty collection",
        )
    elif len(gone) > threshold * len(present):
        diff.degraded = True
        diff.degraded_reason = (
            f"{len(gone):,} of {len(present):,} assets ({len(gone) / len(present):.0%}) would go missing, "
            f"above the {threshold:.0%} threshold"
        )
    if diff.degraded and not allow:
        diff.missing_suppressed = len(gone)
        return
    diff.missing = gone
