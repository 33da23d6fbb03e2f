"""Secrets at rest: a sensitive parameter written in retrovue.yaml as ``${VAR}`` is stored in
``sources.config`` as that reference, never as its value, and resolved from the environment each
time an importer is made from the stored row.

A literal value is stored as written (``validate`` warns about it), and so is what ``retrovue
source add --token`` is given.  Only a value that is one reference and nothing else is kept as a
reference: anything else has no single variable to read back at run time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from retrovue.config.loader import reference_value, whole_reference
from retrovue.errors import SecretNotSetError


def references_of(raw_config: Mapping[str, Any], sensitive: Iterable[str]) -> dict[str, str]:
    """``param -> "${VAR}"`` for each sensitive parameter the file gives as one reference
    (``raw_config`` is the source's config as written, before interpolation)."""
    return {
        key: raw_config[key] for key in sorted(sensitive) if whole_reference(raw_config.get(key))
    }


def runtime_config(
    stored: Mapping[str, Any] | None,
    sensitive: Iterable[str],
    source: str,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A stored config as an importer needs it: each stored reference replaced by its value."""
    environ = os.environ if environ is None else environ
    config = dict(stored or {})
    for key in sensitive:
        match = whole_reference(config.get(key))
        if match is None:
            continue
        value = reference_value(match, environ)
        if value is None:
            raise SecretNotSetError(
                f"source '{source}': its {key} comes from the environment variable "
                f"{match.group(1)}, which is not set",
                hint=f"set {match.group(1)} where retrovue runs (the database stores only the "
                "reference, never the value)",
            )
        config[key] = value
    return config


def secret_values(config: Mapping[str, Any], sensitive: Iterable[str]) -> list[str]:
    """The values of ``config``'s sensitive parameters that are secrets: a stored ``${VAR}``
    reference is none (it is shown, so the operator knows which variable to set)."""
    values = (config.get(key) for key in sensitive)
    return [v for v in values if isinstance(v, str) and not whole_reference(v)]
