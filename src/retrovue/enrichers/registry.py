"""Enricher registry: the built-ins plus the ``retrovue.enrichers`` entry-point group.

Shaped like the importer registry: built once per command and passed along (no module-level
mutable state); two providers of one type id fail loudly naming both; a plugin that fails to
import is listed as broken, not fatal; a type nobody provides is answered as unavailable, with the
reason, by ``unavailable_reason`` / ``require_available``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from retrovue.enrichers.base import BaseEnricher, ParamSpec, is_compliant
from retrovue.enrichers.errors import (
    DuplicateEnricherTypeError,
    EnricherUnavailableError,
    UnknownEnricherTypeError,
)
from retrovue.plugins import load_plugins

ENTRY_POINT_GROUP = "retrovue.enrichers"
NOT_COMPLIANT = "does not implement the enricher contract"


@dataclass(frozen=True)
class RegisteredEnricher:
    type_id: str
    cls: type[BaseEnricher]
    provider: str  # "built-in" or the entry point "name = module:attr"

    @property
    def compliant(self) -> bool:
        return is_compliant(self.cls)


@dataclass(frozen=True)
class EnricherType:
    """One line of ``retrovue enricher list-types``: plain data, JSON through ``to_json``."""

    type_id: str
    display_name: str
    version: int | str | None
    provider: str
    implementation: str | None  # module.qualname; None for a plugin that failed to load
    available: bool
    error: str | None
    opt_in: bool = False
    parameters: tuple[ParamSpec, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.type_id,
            "display_name": self.display_name,
            "version": self.version,
            "provider": self.provider,
            "implementation": self.implementation,
            "available": self.available,
            "error": self.error,
            "opt_in": self.opt_in,
            "parameters": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "required": p.required,
                    "default": p.default,
                    "help": p.help,
                }
                for p in self.parameters
            ],
        }


@dataclass
class EnricherRegistry:
    enrichers: dict[str, RegisteredEnricher] = field(default_factory=dict)
    #: plugins that failed to import: entry point name -> reason (listed, not fatal)
    broken: dict[str, str] = field(default_factory=dict)

    def register(self, cls: type[BaseEnricher], provider: str) -> None:
        type_id = getattr(cls, "type_id", None) or provider
        existing = self.enrichers.get(type_id)
        if existing is not None:
            raise DuplicateEnricherTypeError(
                f"Multiple enrichers claim enricher type '{type_id}'",
                hint=f"providers: {existing.provider} and {provider}",
            )
        self.enrichers[type_id] = RegisteredEnricher(type_id, cls, provider)

    def types(self) -> list[str]:
        return sorted(self.enrichers)

    def get(self, type_id: str) -> type[BaseEnricher]:
        entry = self.enrichers.get(type_id)
        if entry is None:
            raise UnknownEnricherTypeError(
                f"Unknown enricher type '{type_id}'",
                hint=f"available types: {', '.join(self.types()) or 'none'}",
            )
        return entry.cls

    def unavailable_reason(self, type_id: str) -> str | None:
        """None when ``type_id`` can be used; otherwise why not (for stored attachments)."""
        entry = self.enrichers.get(type_id)
        if entry is not None:
            return None if entry.compliant else f"enricher '{type_id}' {NOT_COMPLIANT}"
        if type_id in self.broken:
            return f"the plugin providing '{type_id}' failed to load: {self.broken[type_id]}"
        return f"no loaded enricher provides type '{type_id}'"

    def available(self, type_id: str) -> bool:
        return self.unavailable_reason(type_id) is None

    def require_available(self, type_id: str) -> type[BaseEnricher]:
        reason = self.unavailable_reason(type_id)
        if reason is not None:
            raise EnricherUnavailableError(
                f"Enricher type '{type_id}' is not available",
                hint=f"{reason}; available types: "
                + (", ".join(t for t in self.types() if self.available(t)) or "none"),
            )
        return self.enrichers[type_id].cls

    def create(self, type_id: str, params: dict[str, Any] | None = None) -> BaseEnricher:
        return self.require_available(type_id)(params)

    def list_types(self) -> list[EnricherType]:
        """Every registered type and every plugin that failed to load, sorted by type id."""
        listed = [_describe(entry) for entry in self.enrichers.values()]
        listed += [
            EnricherType(name, name, None, "plugin", None, False, reason)
            for name, reason in self.broken.items()
        ]
        return sorted(listed, key=lambda t: t.type_id)


def _describe(entry: RegisteredEnricher) -> EnricherType:
    cls = entry.cls
    error = None if entry.compliant else NOT_COMPLIANT
    try:
        parameters = tuple(cls.param_spec()) if error is None else ()
    except Exception as exc:  # noqa: BLE001 - a broken plugin must not break listing
        error, parameters = f"param_spec() failed: {type(exc).__name__}: {exc}", ()
    return EnricherType(
        entry.type_id,
        getattr(cls, "display_name", entry.type_id),
        getattr(cls, "version", None),
        entry.provider,
        f"{cls.__module__}.{cls.__qualname__}",
        error is None,
        error,
        bool(getattr(cls, "opt_in", False)),
        parameters,
    )


def builtin_enrichers() -> list[type[BaseEnricher]]:
    # imported when a registry is built, not with this module (the importer registry defers
    # further: to a type's first use); the built-ins load FFmpeg's libraries only when they
    # first enrich
    from retrovue.enrichers.ffprobe import FFProbeEnricher
    from retrovue.enrichers.loudness import LoudnessEnricher

    return [FFProbeEnricher, LoudnessEnricher]


def load_registry(*, include_plugins: bool = True) -> EnricherRegistry:
    registry = EnricherRegistry()
    for cls in builtin_enrichers():
        registry.register(cls, "built-in")
    if include_plugins:
        load_plugins(entry_points(group=ENTRY_POINT_GROUP), registry.register, registry.broken)
    return registry
