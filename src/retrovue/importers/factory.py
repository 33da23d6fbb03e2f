"""The one way to make an importer from a stored source.

A stored ``sources.config`` is not what an importer takes: a secret may be stored as a
``${VAR}`` reference (read from the environment now), and the row may have been written by
hand or by a retrovue whose importer took other parameters.  The factory checks the importer
can run here, checks the stored config against its ``param_spec()``, resolves the references
and tells the caller each secret value, so no output shows it.  Every command and the executor
make their importers here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from retrovue.config.references import runtime_config, secret_values
from retrovue.errors import StoredConfigError
from retrovue.importers.base import BaseImporter, ParamSpec
from retrovue.importers.registry import Registry


def _forget(_secret: str) -> None:
    return None


@dataclass(frozen=True)
class ImporterFactory:
    registry: Registry
    #: where ``${VAR}`` references are read, each time an importer is made
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    #: hears every secret value an importer is given (a redactor's ``add``)
    learn_secret: Callable[[str], None] = _forget

    def create(self, type_id: str, stored: Mapping[str, Any] | None, source: str) -> BaseImporter:
        """The importer of the stored source named ``source``, its secrets read now.  Raises
        ``ImporterUnavailableError``, ``StoredConfigError`` or ``SecretNotSetError``."""
        cls = self._checked_class(type_id, stored, source)
        sensitive = cls.sensitive_params()
        return self._made(cls, runtime_config(stored, sensitive, source, self.environ))

    def for_local_checks(
        self, type_id: str, stored: Mapping[str, Any] | None, source: str
    ) -> BaseImporter:
        """An importer for checks of local paths only (``check_ingestible`` of the stored
        mappings, as `collection show` and `collection update` do).  Its ``${VAR}`` references
        are left unread, so an unset variable does not fail those commands (it never did):
        they never reach the upstream, the one thing a secret is for."""
        cls = self._checked_class(type_id, stored, source)
        return self._made(cls, dict(stored or {}))

    def _checked_class(
        self, type_id: str, stored: Mapping[str, Any] | None, source: str
    ) -> type[BaseImporter]:
        cls = self.registry.require_available(type_id, source)
        check_stored_config(
            type_id, tuple(cls.param_spec()), stored or {}, source, cls.derived_params
        )
        return cls

    def _made(self, cls: type[BaseImporter], config: dict[str, Any]) -> BaseImporter:
        for value in secret_values(config, cls.sensitive_params()):
            self.learn_secret(value)
        return cls(config)


def check_stored_config(
    type_id: str,
    specs: Sequence[ParamSpec],
    stored: Mapping[str, Any],
    source: str,
    derived: frozenset[str] = frozenset(),
) -> None:
    """Every required parameter is there and every key is one the importer takes (its
    parameters, and the ``derived`` keys the declarative path stores for it)."""
    known = {spec.name for spec in specs} | derived
    problems = [f"unknown parameter '{key}'" for key in sorted(set(stored) - known)]
    problems += [
        f"missing required parameter '{spec.name}'"
        for spec in specs
        if spec.required and stored.get(spec.name) is None
    ]
    if problems:
        takes = ", ".join(spec.name + (" (required)" if spec.required else "") for spec in specs)
        raise StoredConfigError(
            f"source '{source}': its stored config does not fit the {type_id} importer: "
            + "; ".join(problems),
            hint=f"{type_id} sources take: {takes or 'no parameters'}",
        )
