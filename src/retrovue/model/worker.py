"""`retrovue worker`: what it is told, what it may enrich, and what it did, as plain data."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from retrovue.model.enrichment import EnricherSpec, EnrichFailure

#: assets claimed at a time, and the lease on them (renewed at a third of it while working)
DEFAULT_BATCH = 32
DEFAULT_LEASE_S = 30.0
#: how long an idle worker waits before looking for work again
DEFAULT_POLL_S = 2.0


@dataclass(frozen=True)
class WorkerSettings:
    #: "<host>:<pid>:<random>": who holds a claim, and the PostgreSQL application_name
    worker_id: str
    batch: int = DEFAULT_BATCH
    lease_s: float = DEFAULT_LEASE_S
    #: enrichment processes per enricher (None: one per core)
    concurrency: int | None = None
    #: drain what is to enrich now, then exit
    once: bool = False
    poll_s: float = DEFAULT_POLL_S


@dataclass(frozen=True)
class WorkCollection:
    """One collection as a worker sees it: all its enrichers (the ready rule needs every one),
    those this machine can run, and how an asset's stored path becomes a path here."""

    id: uuid.UUID
    label: str
    specs: tuple[EnricherSpec, ...]
    runnable: tuple[EnricherSpec, ...]
    to_local: Callable[[str], str] = field(default=lambda path: path, compare=False)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(spec.type for spec in self.specs)

    @property
    def runnable_types(self) -> tuple[str, ...]:
        return tuple(spec.type for spec in self.runnable)


@dataclass
class WorkerReport:
    worker_id: str
    batches: int = 0
    #: assets claimed, over all batches (one taken again after its lease ran out counts again)
    claimed: int = 0
    #: enricher results stored, succeeded and failed
    stored: int = 0
    failed: int = 0
    #: results not stored: the claim was lost, the file changed meanwhile, or another worker had
    #: stored the same result already
    dropped: int = 0
    #: assets this worker made ready
    ready: int = 0
    #: times the database connection was lost and the batch in hand given up
    reconnects: int = 0
    failures: list[EnrichFailure] = field(default_factory=list)
    #: attached enricher types this machine cannot run (another worker has to)
    unavailable: tuple[str, ...] = ()
    interrupted: bool = False
