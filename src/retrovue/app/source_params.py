"""The parameters each source type takes, as its importer declares them in ``param_spec()``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retrovue.errors import UnknownSourceTypeError
from retrovue.importers.base import ParamSpec
from retrovue.importers.registry import Registry
from retrovue.plan import imperative as build


def registry_specs(registry: Registry) -> dict[str, tuple[ParamSpec, ...]]:
    out = {}
    for type_id, entry in sorted(registry.importers.items()):
        try:
            out[type_id] = tuple(entry.cls.param_spec())
        except Exception:  # noqa: BLE001 - a broken plugin contributes no flags
            out[type_id] = ()
    return out


def loaded_specs() -> dict[str, tuple[ParamSpec, ...]]:
    """Every type's parameters, for the flags and the help; none when the registry cannot be
    loaded (the command itself then reports why)."""
    from retrovue.importers.registry import load_registry

    try:
        return registry_specs(load_registry())
    except Exception:  # noqa: BLE001 - the command itself reports registry failures
        return {}


def unknown_type_error(type_id: str, types: Sequence[str]) -> UnknownSourceTypeError:
    return UnknownSourceTypeError(
        f"Unknown source type '{type_id}'. Available types: {', '.join(types)}"
    )


def checked_params(
    type_id: str, specs: Sequence[ParamSpec], given: Mapping[str, Any], *, partial: bool = False
) -> dict[str, Any]:
    """The given parameters, normalised; every flag every type accepts reaches here, so one of
    another type is refused by name rather than by the option parser.  Raises ``ParamErrors``."""
    own = {spec.name for spec in specs}
    foreign = sorted(name for name in given if name not in own)
    return build.validate_params(
        type_id,
        specs,
        {name: value for name, value in given.items() if name in own},
        foreign,
        partial=partial,
    )
