"""`retrovue export`: which stored sources to describe, and how each secret is withheld.

Secrets are never exported: each becomes a ``${VAR}`` reference for the operator to set (one
stored as its own ``${VAR}`` reference is exported as that very reference).  The YAML itself is
written by ``retrovue.render.export``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrovue.app.context import Context
from retrovue.config.loader import whole_reference
from retrovue.errors import NotFoundError, RetrovueError
from retrovue.importers.registry import Registry
from retrovue.model.snapshots import DbSnapshot, DbSource

#: for a source whose importer is not loaded: which keys to treat as secrets, to be safe
_LIKELY_SECRET = re.compile(r"(?i)token|password|passwd|secret|api_?key|credential")


@dataclass(frozen=True)
class ExportedSecret:
    variable: str
    source: str
    key: str
    #: the value as stored when it is itself a whole ``${VAR}`` reference (exported as it is)
    stored_reference: str | None = None


@dataclass(frozen=True)
class ExportedSource:
    source: DbSource
    #: in the order of the source's sorted keys
    secrets: tuple[ExportedSecret, ...]
    #: False: its importer is not loaded here, so the keys that look secret were withheld
    importer_loaded: bool = True


@dataclass(frozen=True)
class Export:
    sources: tuple[ExportedSource, ...]

    @property
    def secrets(self) -> tuple[ExportedSecret, ...]:
        return tuple(secret for s in self.sources for secret in s.secrets)


def export(ctx: Context, sources: tuple[str, ...]) -> Export:
    """What retrovue.yaml pins the stored state of these sources (all when none named)."""
    snapshot = ctx.snapshot()
    known = {s.name.casefold() for s in snapshot.sources}
    unknown = [n for n in sources if n.casefold() not in known]
    if unknown:
        raise NotFoundError(
            f"no stored source named {', '.join(repr(n) for n in unknown)}",
            hint="see `retrovue source list`",
        )
    return what_to_export(snapshot, ctx.registry, tuple(sources))


def what_to_export(snapshot: DbSnapshot, registry: Registry, only: tuple[str, ...] = ()) -> Export:
    wanted = {n.casefold() for n in only}
    return Export(
        tuple(
            _exported(s, registry)
            for s in snapshot.sources
            if not only or s.name.casefold() in wanted
        )
    )


def env_var_name(source: str, key: str) -> str:
    """``Living Room Server`` + ``token`` -> ``LIVING_ROOM_SERVER_TOKEN``."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", f"{source}_{key}").strip("_").upper()
    return name if name and not name[0].isdigit() else f"RV_{name}"


def _exported(source: DbSource, registry: Registry) -> ExportedSource:
    sensitive, known = _sensitive_keys(source, registry)
    secrets = []
    for key in sorted(source.config):
        if key in sensitive and source.config[key] is not None:
            stored = whole_reference(source.config[key])
            if stored:
                secrets.append(ExportedSecret(stored.group(1), source.name, key, stored.group(0)))
            else:
                secrets.append(ExportedSecret(env_var_name(source.name, key), source.name, key))
    return ExportedSource(source, tuple(secrets), known)


def _sensitive_keys(source: DbSource, registry: Registry) -> tuple[set[str], bool]:
    try:
        return set(registry.get(source.type).sensitive_params()), True
    except RetrovueError:
        return {k for k in source.config if _LIKELY_SECRET.search(k)}, False
