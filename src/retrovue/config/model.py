"""The desired state declared in retrovue.yaml, as plain frozen data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from retrovue.importers.base import PathMappingSpec

DEFAULT_MISSING_THRESHOLD = 0.2


@dataclass(frozen=True)
class CollectionDecl:
    name: str | None
    external_id: str | None
    sync: bool | None
    path_mappings: tuple[PathMappingSpec, ...] | None
    missing_threshold: float | None = None

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"external_id {self.external_id}"


@dataclass(frozen=True)
class SourceDecl:
    name: str
    type: str
    external_id: str | None
    config: dict[str, Any]
    collections: tuple[CollectionDecl, ...]
    sensitive_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class DesiredState:
    file: str
    sources: tuple[SourceDecl, ...]
    missing_threshold: float = DEFAULT_MISSING_THRESHOLD
    prune: bool = False
    #: sha256 of the file's bytes (saved plans use it to detect a changed config)
    config_hash: str = ""
    #: "<source>.<param>" -> sha256 fingerprint of each sensitive value (never the value)
    secret_fingerprints: dict[str, str] = field(default_factory=dict)

    def source(self, name: str) -> SourceDecl | None:
        folded = name.casefold()
        return next((s for s in self.sources if s.name.casefold() == folded), None)
