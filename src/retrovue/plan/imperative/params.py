"""Validate and normalise importer parameters given on the command line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retrovue.diff.sources import derived_external_id
from retrovue.errors import ValidationError
from retrovue.importers.base import ParamSpec
from retrovue.importers.kinds import rule_of
from retrovue.model.snapshots import DbSnapshot


class ParamErrors(ValidationError):
    """Several validation failures found in one pass; each is its own `Error:` line, so the
    operator sees every problem at once instead of fixing them one run at a time."""

    def __init__(self, messages: list[str], code: str = "VALIDATION_ERROR"):
        super().__init__("; ".join(messages))
        self.messages = messages
        self.code = code


# -- parameters ----------------------------------------------------------------------------------


def validate_params(
    type_id: str,
    specs: Sequence[ParamSpec],
    given: Mapping[str, Any],
    foreign: Sequence[str] = (),
    *,
    partial: bool = False,
) -> dict[str, Any]:
    """Check and normalise the given parameters; report every problem in one pass.

    ``given`` holds only what the operator passed; ``foreign`` names parameters of other types.
    ``partial`` (source update) skips the required-parameter check.
    """
    errors = [
        f"Invalid configuration parameter '{name}' for source type '{type_id}'" for name in foreign
    ]
    out: dict[str, Any] = {}
    by_name = {s.name: s for s in specs}
    if not partial:
        for spec in specs:
            if spec.required and given.get(spec.name) is None:
                errors.append(f"{spec.flag} is required for {type_id} sources")
    for name, raw in given.items():
        if raw is None:
            continue
        try:
            out[name] = rule_of(by_name[name].kind).from_cli(raw, name, type_id)
        except ValueError as exc:
            errors.append(str(exc))
    if errors:
        raise ParamErrors(errors)
    return out


# -- source add: external ids ---------------------------------------------------------------------


def unique_external_id(type_id: str, name: str, snapshot: DbSnapshot) -> str:
    """The id a declared source of this name gets (``derived_external_id``: `<type>-<8 hex of
    the name>`, then `-2`, `-3`, … past the taken ones), so `--dry-run` shows exactly what the
    real command stores and a source added by hand is adopted by a config that names it."""
    return derived_external_id(type_id, name, {s.external_id for s in snapshot.sources})
