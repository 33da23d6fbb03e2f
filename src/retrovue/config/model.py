"""The desired state declared in retrovue.yaml, as plain frozen data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from retrovue.errors import Diagnostic
from retrovue.importers.base import PathMappingSpec
from retrovue.model.enrichment import EnricherSpec

DEFAULT_MISSING_THRESHOLD = 0.2


@dataclass(frozen=True)
class CollectionDecl:
    name: str | None
    external_id: str | None
    sync: bool | None
    path_mappings: tuple[PathMappingSpec, ...] | None
    missing_threshold: float | None = None
    #: None: the key is absent, stored attachments are left alone; () detaches all
    enrichers: tuple[EnricherSpec, ...] | None = None

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"external_id {self.external_id}"


#: `watch:` of a source: file events, a periodic scan (network mounts), or only the resync
WATCH_MODES = ("events", "poll", "off")
DEFAULT_POLL_INTERVAL = 60.0
DEFAULT_RESYNC = 3600.0


@dataclass(frozen=True)
class SourceDecl:
    name: str
    type: str
    external_id: str | None
    config: dict[str, Any]
    collections: tuple[CollectionDecl, ...]
    sensitive_keys: frozenset[str] = frozenset()
    #: sensitive params written as one ``${VAR}``: param -> the reference, as written
    references: dict[str, str] = field(default_factory=dict)
    #: attached to the source (all its collections); None: absent, stored ones left alone
    enrichers: tuple[EnricherSpec, ...] | None = None
    #: how `retrovue watch` notices changes (one of WATCH_MODES), and its intervals in seconds
    watch: str = "events"
    poll_interval: float = DEFAULT_POLL_INTERVAL
    resync: float = DEFAULT_RESYNC

    @property
    def stored_config(self) -> dict[str, Any]:
        """``config`` as the database keeps it: a referenced secret as its reference (resolved
        when an importer is made), never as its value; ``config`` itself holds the values."""
        return {**self.config, **self.references}


@dataclass(frozen=True)
class DesiredState:
    file: str
    sources: tuple[SourceDecl, ...]
    missing_threshold: float = DEFAULT_MISSING_THRESHOLD
    prune: bool = False
    #: sha256 of the file's bytes (saved plans use it to detect a changed config)
    config_hash: str = ""
    #: "<source>.<param>" -> fingerprint of each sensitive value (never the value); empty here:
    #: fingerprints are keyed with the database's key, which reading a file does not have
    #: (saved plans make them, ``retrovue.plan.saved.secret_fingerprints``)
    secret_fingerprints: dict[str, str] = field(default_factory=dict)
    #: every environment variable the file reads -> its value now (None: unset, the file's
    #: default applied); a saved plan records them keyed, and apply refuses when one moved
    environment: dict[str, str | None] = field(default_factory=dict)
    #: what is valid but unwise (a secret written in clear); ``validate`` prints them
    warnings: tuple[Diagnostic, ...] = ()

    def source(self, name: str) -> SourceDecl | None:
        folded = name.casefold()
        return next((s for s in self.sources if s.name.casefold() == folded), None)
