"""One observation per apply: the executor reuses its plan's listing of a collection.

``apply -c`` plans and executes in one process, under the apply lock.  Listing a collection is
the costly part of both (a walk of the whole tree, every page of a media server's library), so the planner
keeps each listing it diffed, with the importer's cheap proof of what it saw
(``BaseImporter.observation_token``), and the executor uses it instead of listing again when:

* the collection was planned with changes (an unchanged one is not ingested, so not kept);
* the executor's importer has the planner's type and config (the same upstream, read alike);
* the observation is at most ``MAX_AGE`` seconds old (an operator may sit at the prompt); and
* the importer says the upstream still matches the proof (``BaseImporter.is_unchanged``).

Otherwise the collection is listed again, as it always is for a saved plan (``apply PLANFILE``:
the listing is never written to a saved plan, and a file could not be trusted with it anyway;
the kept listing itself goes, past a memory budget, to this process's own anonymous temporary
file: ``retrovue.spill``).  The executor still diffs the listing against the database inside
its unit of work and still checks ingestibility there; only the upstream read is shared.  Each
observation is handed out once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field

from retrovue.importers.base import BaseImporter, UpstreamAsset
from retrovue.spill import Spill

#: seconds a plan's listing stays usable; past it the executor lists again whatever the proof
MAX_AGE = 600.0


@dataclass
class Observation:
    type_id: str
    config: dict = field(repr=False)  # the importer's, secrets resolved: never shown
    external_id: str
    assets: Spill[UpstreamAsset] = field(repr=False)
    token: Hashable = field(repr=False)
    taken_at: float  # ``Observations.clock`` when the listing began


@dataclass
class Observations:
    """The listings one plan made, keyed by the plan's collection address (in process only)."""

    max_age: float = MAX_AGE
    clock: Callable[[], float] = time.monotonic
    _kept: dict[Hashable, Observation] = field(default_factory=dict, repr=False)

    def recording(
        self, importer: BaseImporter, external_id: str, listing: Iterable[UpstreamAsset]
    ) -> Recording:
        """Wrap a full listing so the items it yields are kept (see ``Recording.keep``)."""
        return Recording(self, importer, external_id, listing, self.clock())

    def take(self, key: Hashable, importer: BaseImporter) -> Spill[UpstreamAsset] | None:
        """The kept listing of ``key`` when ``importer`` can vouch for it, else None (list it
        again).  Removed either way: a listing serves one execution."""
        seen = self._kept.pop(key, None)
        if seen is None:
            return None
        if (
            seen.type_id == importer.type_id
            and seen.config == importer.config
            and self.clock() - seen.taken_at <= self.max_age
            and importer.is_unchanged(seen.external_id, seen.token)
        ):
            return seen.assets
        seen.assets.close()
        return None

    def __len__(self) -> int:
        return len(self._kept)


@dataclass
class Recording:
    """A listing being diffed by the planner, each item kept as it passes: in a ``Spill`` (a
    private temporary file), since a listing of a million items would not fit in memory."""

    owner: Observations
    importer: BaseImporter
    external_id: str
    listing: Iterable[UpstreamAsset]
    taken_at: float
    items: Spill[UpstreamAsset] = field(default_factory=lambda: _listing(), repr=False)

    def __iter__(self) -> Iterator[UpstreamAsset]:
        append = self.items.append
        for item in self.listing:
            append(item)
            yield item

    def keep(self, key: Hashable) -> None:
        """Store the listing under ``key`` if the importer offers a proof for it; call only
        once the listing ran to its end."""
        token = self.importer.observation_token(self.external_id)
        if token is None:
            self.items.close()
            return
        self.owner._kept[key] = Observation(
            self.importer.type_id,
            dict(self.importer.config),
            self.external_id,
            self.items,
            token,
            self.taken_at,
        )


def _listing() -> Spill[UpstreamAsset]:
    make = tuple.__new__
    return Spill(tuple, lambda values: make(UpstreamAsset, values))
