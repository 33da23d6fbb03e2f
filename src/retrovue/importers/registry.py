"""Importer registry: the built-ins plus the ``retrovue.importers`` entry-point group.

A registry is built once per command and passed along; there is no module-level mutable state.
Built-ins are registered by type id and imported when that type is first used, so a command
that touches only filesystem sources never loads plexapi (issue 12, fast start).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import entry_points

from retrovue.errors import (
    DuplicateSourceTypeError,
    ImporterUnavailableError,
    UnknownSourceTypeError,
)
from retrovue.importers.base import BaseImporter, is_compliant
from retrovue.plugins import load_plugins

ENTRY_POINT_GROUP = "retrovue.importers"


#: the built-in importers: type id -> "module:attribute" of the class, which has that type_id
#: (tests/test_registry.py checks it)
BUILTIN_IMPORTERS = {
    "emby": "retrovue.importers.jellyfin:EmbyImporter",
    "filesystem": "retrovue.importers.filesystem:FilesystemImporter",
    "jellyfin": "retrovue.importers.jellyfin:JellyfinImporter",
    "plex": "retrovue.importers.plex:PlexImporter",
}


@dataclass(frozen=True)
class RegisteredImporter:
    type_id: str
    #: the class, or a built-in's "module:attribute", imported when ``cls`` is first read
    source: type[BaseImporter] | str
    provider: str  # "built-in" or the entry point "name = module:attr"

    @cached_property
    def cls(self) -> type[BaseImporter]:
        if not isinstance(self.source, str):
            return self.source
        module, _, attribute = self.source.partition(":")
        return getattr(importlib.import_module(module), attribute)

    @property
    def compliant(self) -> bool:
        return is_compliant(self.cls)


@dataclass
class Registry:
    importers: dict[str, RegisteredImporter] = field(default_factory=dict)
    #: plugins that failed to import: name -> reason (listed, not fatal)
    broken: dict[str, str] = field(default_factory=dict)

    def register(self, cls: type[BaseImporter] | str, provider: str, type_id: str = "") -> None:
        """``cls`` may be "module:attribute" (a built-in, imported on first use): then
        ``type_id`` names its type."""
        type_id = type_id or getattr(cls, "type_id", None) or provider
        existing = self.importers.get(type_id)
        if existing is not None:
            raise DuplicateSourceTypeError(
                f"Multiple importers claim source type '{type_id}'",
                hint=f"providers: {existing.provider} and {provider}",
            )
        self.importers[type_id] = RegisteredImporter(type_id, cls, provider)

    def types(self) -> list[str]:
        return sorted(self.importers)

    def get(self, type_id: str) -> type[BaseImporter]:
        entry = self.importers.get(type_id)
        if entry is None:
            raise UnknownSourceTypeError(
                f"Unknown source type '{type_id}'",
                hint=f"available types: {', '.join(self.types()) or 'none'}",
            )
        return entry.cls

    def available(self, type_id: str) -> bool:
        entry = self.importers.get(type_id)
        return entry is not None and entry.compliant

    def require_available(self, type_id: str, source_name: str) -> type[BaseImporter]:
        if not self.available(type_id):
            raise ImporterUnavailableError(
                f"Source type '{type_id}' is not available",
                hint=f"source '{source_name}' has type '{type_id}', which no loaded importer provides",
            )
        return self.importers[type_id].cls

    def create(self, type_id: str, config: dict) -> BaseImporter:
        return self.get(type_id)(config)


def builtin_importers() -> list[tuple[str, type[BaseImporter] | str]]:
    """(type id, its class or "module:attribute") of each built-in; nothing is imported here."""
    return list(BUILTIN_IMPORTERS.items())


def load_registry(*, include_plugins: bool = True) -> Registry:
    registry = Registry()
    for type_id, target in builtin_importers():
        registry.register(target, "built-in", type_id)
    if include_plugins:
        load_plugins(entry_points(group=ENTRY_POINT_GROUP), registry.register, registry.broken)
    return registry
