"""What executing a plan did: one outcome per source unit and per collection ingest."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from retrovue.model.actions import CollectionAddress, IngestCollection, Plan, SkipReason
from retrovue.model.counts import IngestCounts
from retrovue.model.enrichment import EnrichCounts, EnrichFailure
from retrovue.model.enums import Outcome, RunStatus
from retrovue.model.snapshots import DbCollection, DbSource


def _message(error: BaseException | None) -> str | None:
    return None if error is None else getattr(error, "message", None) or str(error)


def _code(error: BaseException | None) -> str | None:
    return None if error is None else getattr(error, "code", "ERROR")


class _Failable:
    """``error`` is the typed error that ended a unit (a ``retrovue.errors`` instance, typed
    loosely here so the model stays a leaf); None when it succeeded."""

    error: BaseException | None

    @property
    def message(self) -> str | None:
        return _message(self.error)

    @property
    def code(self) -> str | None:
        return _code(self.error)


@dataclass
class SourceOutcome(_Failable):
    """One source's unit of source-level changes."""

    source: str
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class IngestOutcome(_Failable):
    collection: CollectionAddress
    status: RunStatus
    planned: IngestCounts
    counts: IngestCounts | None = None
    error: BaseException | None = None
    run_id: uuid.UUID | None = None
    degraded: bool = False
    degraded_reason: str | None = None
    skipped: tuple[SkipReason, ...] = ()  # why items of the committed run were not stored
    started_at: datetime | None = None

    @property
    def hint(self) -> str | None:
        return getattr(self.error, "hint", None)


#: failures an enrichment outcome lists one by one; the counts hold the rest
MAX_LISTED_FAILURES = 100


@dataclass
class EnrichmentOutcome(_Failable):
    """One collection's enrichment: how many assets it enriched or failed, per enricher type how
    many runs succeeded or failed, the failed runs (up to ``MAX_LISTED_FAILURES``), and the
    error that stopped it, if any."""

    collection: CollectionAddress
    counts: tuple[EnrichCounts, ...] = ()
    failures: tuple[EnrichFailure, ...] = ()
    error: BaseException | None = None
    interrupted: bool = False
    #: assets a killed run had left ``enriching`` that this one settled (new or ready)
    reset: int = 0
    #: assets, as a plan counts them: enriched when every enricher that ran on one succeeded,
    #: failed when any failed (two enrichers on one asset are two runs, one asset)
    assets_enriched: int = 0
    assets_failed: int = 0
    #: ``--enrich=workers``: nothing was enriched here; this many assets are left to the workers
    left_to_workers: int | None = None

    @property
    def enriched(self) -> int:
        return self.assets_enriched

    @property
    def failed(self) -> int:
        return self.assets_failed

    @property
    def runs_failed(self) -> int:
        """Enricher runs that failed: what ``failures`` lists (up to its cap)."""
        return sum(c.failed for c in self.counts)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.interrupted and self.failed == 0


@dataclass
class ExecutionResult:
    sources: list[SourceOutcome] = field(default_factory=list)
    ingests: list[IngestOutcome] = field(default_factory=list)
    enrichments: list[EnrichmentOutcome] = field(default_factory=list)
    interrupted: bool = False
    #: the ``LockLostError`` that stopped the run: units after it never ran
    lock_lost: BaseException | None = None

    @property
    def rolled_back_on_stop(self) -> bool:
        """Whether the interruption stopped a unit in progress; False: it came as a unit
        committed, so the run stopped after it and nothing was rolled back."""
        return any(i.status == RunStatus.INTERRUPTED for i in self.ingests) or any(
            e.interrupted for e in self.enrichments
        )

    @property
    def failures(self) -> int:
        return (
            sum(not s.ok for s in self.sources)
            + sum(i.status == RunStatus.FAILED for i in self.ingests)
            + sum(not e.ok and not e.interrupted for e in self.enrichments)
        )

    @property
    def successes(self) -> int:
        return (
            sum(s.ok for s in self.sources)
            + sum(i.status == RunStatus.OK for i in self.ingests)
            + sum(e.enriched > 0 for e in self.enrichments)
        )


@dataclass(frozen=True)
class IngestedAsset:
    """An asset a collection ingest created or updated (``collection ingest --verbose-assets``)."""

    id: str | None  # None: not created yet (dry run)
    source_uri: str | None
    canonical_uri: str | None
    state: str | None
    approved_for_broadcast: bool | None
    change: str | None = None  # content | remap; None for a created asset


@dataclass(frozen=True)
class CollectionIngestReport(_Failable):
    """One collection's ingest as an imperative command reports it: done, previewed or failed."""

    source: DbSource
    collection: DbCollection
    action: IngestCollection
    dry_run: bool
    counts: IngestCounts | None = None
    skipped: tuple[SkipReason, ...] = ()
    degraded: bool = False
    degraded_reason: str | None = None
    last_ingest_time: datetime | None = None
    run_id: uuid.UUID | None = None
    error: BaseException | None = None
    created_assets: tuple[IngestedAsset, ...] | None = None
    updated_assets: tuple[IngestedAsset, ...] | None = None
    #: the attached enrichers' run after the ingest, as apply runs it; None when none ran
    #: (a dry run, --no-enrich, no enricher attached, a failed ingest)
    enrichment: EnrichmentOutcome | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


#: error codes that mean the upstream failed us, not the database or the request
UPSTREAM_CODES = frozenset({"UPSTREAM_UNREACHABLE", "UPSTREAM_ERROR"})
#: the code of a lost apply lock: the run stopped, whatever committed before it
LOCK_LOST_CODE = "LOCK_LOST"


@dataclass(frozen=True)
class SourceIngestReport:
    """`source ingest`: every eligible collection of a source, each in its own unit."""

    source: DbSource
    collections_total: int
    eligible: tuple[DbCollection, ...]
    skipped: tuple[tuple[DbCollection, str], ...]  # (collection, why it is not eligible)
    results: tuple[CollectionIngestReport, ...]
    dry_run: bool
    interrupted: bool = False
    #: the interruption stopped a collection in progress (False: it came as one committed)
    rolled_back_on_stop: bool = False
    plan: Plan | None = None  # the plan a dry run shows

    @property
    def succeeded(self) -> tuple[CollectionIngestReport, ...]:
        return tuple(r for r in self.results if r.ok)

    @property
    def failed(self) -> tuple[CollectionIngestReport, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def upstream_only(self) -> bool:
        return all(r.code in UPSTREAM_CODES for r in self.failed)

    @property
    def outcome(self) -> Outcome:
        if self.interrupted:
            return Outcome.INTERRUPTED
        if any(r.code == LOCK_LOST_CODE for r in self.failed):
            return Outcome.FAILED  # another writer may have run meanwhile: not a partial success
        if not self.failed:
            return Outcome.OK
        if self.succeeded:
            return Outcome.PARTIAL
        return Outcome.UNREACHABLE if self.upstream_only else Outcome.FAILED
