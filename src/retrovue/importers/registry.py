"""Importer registry: the built-ins plus the ``retrovue.importers`` entry-point group.

A registry is built once per command and passed along; there is no module-level mutable state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points

from retrovue.errors import (
    DuplicateSourceTypeError,
    ImporterUnavailableError,
    UnknownSourceTypeError,
)
from retrovue.importers.base import BaseImporter, is_compliant

ENTRY_POINT_GROUP = "retrovue.importers"


@dataclass(frozen=True)
class RegisteredImporter:
    type_id: str
    cls: type[BaseImporter]
    provider: str  # "built-in" or the entry point "name = module:attr"

    @property
    def compliant(self) -> bool:
        return is_compliant(self.cls)


@dataclass
class Registry:
    importers: dict[str, RegisteredImporter] = field(default_factory=dict)
    #: plugins that failed to import: name -> reason (listed, not fatal)
    broken: dict[str, str] = field(default_factory=dict)

    def register(self, cls: type[BaseImporter], provider: str) -> None:
        type_id = getattr(cls, "type_id", None) or provider
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


def builtin_importers() -> list[type[BaseImporter]]:
    from retrovue.importers.filesystem import FilesystemImporter

    classes: list[type[BaseImporter]] = [FilesystemImporter]
    try:
        from retrovue.importers.plex import PlexImporter
    except ImportError:  # pragma: no cover - plexapi is a hard dependency; only during development
        pass
    else:
        classes.append(PlexImporter)
    return classes


def load_registry(*, include_plugins: bool = True) -> Registry:
    registry = Registry()
    for cls in builtin_importers():
        registry.register(cls, "built-in")
    if include_plugins:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            provider = f"{ep.name} = {ep.value}"
            try:
                cls = ep.load()
            except Exception as exc:  # a broken plugin is listed as unavailable, not fatal
                registry.broken[ep.name] = f"{type(exc).__name__}: {exc}"
                continue
            registry.register(cls, provider)
    return registry
