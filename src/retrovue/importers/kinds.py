"""How a parameter of each kind is written, read and checked: one rule per ``ParamKind``.

The config schema, the config loader, the `source add|update` flags and the values given to
them, and the enrichers' params all ask the rule of a parameter's kind; none of them interprets
a kind itself.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urlparse

from retrovue.model.enums import ParamKind


class KindRule:
    """A text parameter; the other kinds override what differs."""

    #: a value's JSON Schema in retrovue.yaml
    schema: ClassVar[Mapping[str, Any]] = MappingProxyType({"type": "string", "minLength": 1})
    #: how `--help` shows a flag's value
    metavar: ClassVar[str] = "TEXT"
    #: a `--name/--no-name` switch instead of a flag taking a value
    switch: ClassVar[bool] = False

    def accepts(self, value: Any) -> bool:
        """Whether a value from a file or a stored row is of this kind."""
        return isinstance(value, str)

    def from_cli(self, raw: Any, name: str, type_id: str) -> Any:
        """A value given on the command line, normalised; ``ValueError`` says what is wrong."""
        return self.from_text(str(raw).strip(), name, type_id)

    def from_text(self, text: str, name: str, type_id: str) -> Any:
        if not text:
            raise ValueError(_invalid(type_id, name, "must not be empty"))
        return text

    def in_file(self, value: Any, base_dir: str) -> Any:
        """A value as retrovue.yaml gives it, made to mean the same from any working directory."""
        return value


class UrlRule(KindRule):
    schema = MappingProxyType({"type": "string", "pattern": "^https?://[^\\s/]+"})
    metavar = "URL"

    def from_text(self, text: str, name: str, type_id: str) -> str:
        parsed = urlparse(text)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"Invalid URL format for {name} parameter")
        return text


class PathRule(KindRule):
    """A local directory; a relative one is relative to the config file, or on the command
    line to the working directory, and is stored absolute."""

    metavar = "PATH"

    def from_text(self, text: str, name: str, type_id: str) -> str:
        path = _absolute(text, os.getcwd()) if text else ""
        if not text or not os.path.exists(path):
            raise ValueError(f"Path does not exist: {text}")
        if not os.path.isdir(path):
            raise ValueError(f"Path is not a directory: {path}")
        if not os.access(path, os.R_OK | os.X_OK):
            raise ValueError(f"Path is not readable: {path}")
        return path

    def in_file(self, value: Any, base_dir: str) -> Any:
        return _absolute(value, base_dir) if isinstance(value, str) else value


class BoolRule(KindRule):
    schema = MappingProxyType({"type": "boolean"})
    switch = True

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def from_cli(self, raw: Any, name: str, type_id: str) -> bool:
        return bool(raw)  # the switch gives a bool


class ListRule(KindRule):
    """File extensions and the like: given as ``a,B,.c``, stored as ``["a", "b", "c"]``."""

    schema = MappingProxyType(
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
    )
    metavar = "A,B,…"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, list)

    def from_text(self, text: str, name: str, type_id: str) -> list[str]:
        items = [i.strip().lower().lstrip(".") for i in text.split(",")]
        items = [i for i in items if i]
        if not items:
            raise ValueError(_invalid(type_id, name, "must not be empty"))
        return items


class NumberRule(KindRule):
    """A positive, finite number; a whole one is stored as an integer."""

    schema = MappingProxyType({"type": "number", "exclusiveMinimum": 0})
    metavar = "N"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    def from_text(self, text: str, name: str, type_id: str) -> int | float:
        try:
            number = float(text)
        except ValueError:
            raise ValueError(_invalid(type_id, name, "must be a number")) from None
        if not math.isfinite(number):
            raise ValueError(_invalid(type_id, name, "must be a finite number"))
        if number <= 0:
            raise ValueError(_invalid(type_id, name, "must be positive"))
        return int(number) if number.is_integer() else number


RULES: Mapping[ParamKind, KindRule] = MappingProxyType(
    {
        ParamKind.STRING: KindRule(),
        ParamKind.URL: UrlRule(),
        ParamKind.PATH: PathRule(),
        ParamKind.BOOL: BoolRule(),
        ParamKind.LIST: ListRule(),
        ParamKind.NUMBER: NumberRule(),
    }
)


def rule_of(kind: ParamKind) -> KindRule:
    return RULES[kind]


def _absolute(value: str, base_dir: str) -> str:
    return os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))


def _invalid(type_id: str, name: str, problem: str) -> str:
    return f"Invalid configuration for source type '{type_id}': {name} {problem}"
