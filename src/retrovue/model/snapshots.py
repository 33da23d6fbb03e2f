"""What the database holds, as plain frozen data (read by ``retrovue.observe``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import NamedTuple

from retrovue.model.enrichment import EnricherSpec, effective
from retrovue.model.upstream import PathMappingSpec


@dataclass(frozen=True)
class DbCollection:
    id: uuid.UUID
    source_id: uuid.UUID
    external_id: str
    name: str
    sync_enabled: bool
    ingestible: bool
    ingestible_reason: str | None
    locations: tuple[str, ...]
    path_mappings: tuple[PathMappingSpec, ...]
    #: attached to this collection itself (its source's come on top: ``DbSource.enrichers_of``)
    enrichers: tuple[EnricherSpec, ...] = ()


@dataclass(frozen=True)
class DbSource:
    id: uuid.UUID
    external_id: str
    name: str
    type: str
    config: dict
    #: a ``SourceOrigin`` value as stored; one written by hand stays as it is, and is no CONFIG
    origin: str
    collections: tuple[DbCollection, ...] = ()
    #: attached to the source: they run on all its collections
    enrichers: tuple[EnricherSpec, ...] = ()

    def enrichers_of(self, collection: DbCollection) -> tuple[EnricherSpec, ...]:
        return effective(self.enrichers, collection.enrichers)

    def collection(self, external_id: str) -> DbCollection | None:
        return next((c for c in self.collections if c.external_id == external_id), None)


@dataclass(frozen=True)
class DbSnapshot:
    sources: tuple[DbSource, ...] = field(default_factory=tuple)

    def match_source(self, name: str, external_id: str | None) -> DbSource | None:
        """A declared source is the stored one with its external_id, else with its name."""
        if external_id is not None:
            return next((s for s in self.sources if s.external_id == external_id), None)
        folded = name.casefold()
        return next((s for s in self.sources if s.name.casefold() == folded), None)


class ExistingAsset(NamedTuple):
    """The comparison columns of one stored asset, as a row: what ``StoredIndex.of`` takes
    (``retrovue.model.stored_index``; the database reader hands it the driver's rows alike).

    ``id`` is the id as text (32 hex digits on SQLite, the dashed form on PostgreSQL), or a UUID.
    ``missing`` is 0 or 1 as the database reads it.
    """

    source_uri: str
    id: uuid.UUID | str
    change_token: str
    canonical_uri: str
    missing: int  # 0 or 1


# --- fingerprints of the observed database, for saved-plan staleness -----------------------------


@dataclass(frozen=True)
class CollectionFingerprint:
    name: str
    fingerprint: str


@dataclass(frozen=True)
class SourceFingerprint:
    name: str
    fingerprint: str
    collections: dict[str, CollectionFingerprint] = field(default_factory=dict)  # by external_id
    #: None in plans older than 1.6: a source the plan creates is then matched by name only
    external_id: str | None = None


@dataclass(frozen=True)
class DbState:
    """Fingerprints of everything a plan reads from the database, assets aside (those are
    fingerprinted per ingested collection, on ``IngestCollection.db_fingerprint``).  Computed by
    ``retrovue.observe.state``; written into saved plans as ``observed``."""

    schema_revision: str | None
    fingerprint: str
    sources: dict[str, SourceFingerprint] = field(default_factory=dict)  # by source id
