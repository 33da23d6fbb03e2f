"""Enricher attachments and enrichment work, as plain data.

An attachment says that one enricher type runs on a source's collections or on one collection.
A collection's *effective* enrichers are its source's, with its own added or overriding them by
type; they run in ascending ``priority`` (ties by type id), so a cheap probe can come before an
enricher that reads the whole file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: the columns of ``assets`` only enrichers fill (``duration_ms`` is filled by importers too), in
#: the order ``asset show`` prints them
PROBED_COLUMNS = (
    "container",
    "video_codec",
    "audio_codec",
    "width",
    "height",
    "bit_rate",
    "loudness_lufs",
)


@dataclass(frozen=True)
class EnricherSpec:
    type: str
    priority: int = 0
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"type": self.type, "priority": self.priority}
        if self.params:
            shown["params"] = dict(self.params)
        return shown


def run_order(specs: Iterable[EnricherSpec]) -> tuple[EnricherSpec, ...]:
    return tuple(sorted(specs, key=lambda s: (s.priority, s.type)))


def effective(
    source_level: Iterable[EnricherSpec], collection_level: Iterable[EnricherSpec]
) -> tuple[EnricherSpec, ...]:
    """A collection's enrichers: its source's, with its own added or overriding them by type."""
    merged = {spec.type: spec for spec in source_level}
    merged.update({spec.type: spec for spec in collection_level})
    return run_order(merged.values())


@dataclass(frozen=True)
class EnrichWork:
    """How many assets of a collection one enricher type would enrich."""

    type: str
    version: str
    assets: int


@dataclass(frozen=True)
class EnrichProgress:
    """Where a collection's enrichment stands, as any machine reads it (`collection show`)."""

    #: present assets some attached enricher has still to try for their change token
    to_enrich: int
    #: of those, held by a `retrovue worker` under a live lease
    claimed: int = 0
    #: claims whose lease ran out (a worker died or was cut off; the work is claimed again)
    expired: int = 0


@dataclass(frozen=True)
class EnrichFailure:
    """One asset an enricher could not read: shown per asset, the rest of the run goes on."""

    asset_id: str
    path: str
    type: str
    code: str
    message: str


@dataclass(frozen=True)
class EnrichCounts:
    type: str
    enriched: int = 0
    failed: int = 0
    #: built from what the upstream listing said, without opening the file
    from_listing: int = 0
