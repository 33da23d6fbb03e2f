"""What executing a plan did: one outcome per source unit and per collection ingest."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from retrovue.model.actions import CollectionAddress
from retrovue.model.counts import IngestCounts


@dataclass
class SourceOutcome:
    source: str
    ok: bool
    error: str | None = None
    error_code: str | None = None


@dataclass
class IngestOutcome:
    collection: CollectionAddress
    status: str  # ok | failed | interrupted | skipped
    planned: IngestCounts
    counts: IngestCounts | None = None
    error: str | None = None
    error_code: str | None = None
    run_id: uuid.UUID | None = None
    degraded: bool = False
    degraded_reason: str | None = None
    #: the reason behind ``error`` (e.g. why a collection is not ingestible), when there is one
    error_hint: str | None = None
    skipped: tuple = ()  # SkipReason of the committed run (unmapped items)
    started_at: datetime | None = None


@dataclass
class ExecutionResult:
    sources: list[SourceOutcome] = field(default_factory=list)
    ingests: list[IngestOutcome] = field(default_factory=list)
    interrupted: bool = False

    @property
    def failures(self) -> int:
        return sum(not s.ok for s in self.sources) + sum(i.status == "failed" for i in self.ingests)

    @property
    def successes(self) -> int:
        return sum(s.ok for s in self.sources) + sum(i.status == "ok" for i in self.ingests)
