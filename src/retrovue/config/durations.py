"""Durations in retrovue.yaml: seconds as a number, or text such as ``90s``, ``5m``, ``1h``."""

from __future__ import annotations

import re

#: what the schema accepts as text (a number is seconds)
DURATION_PATTERN = r"^[0-9]+(\.[0-9]+)?\s*(s|m|h)?$"
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(value: float | int | str) -> float:
    """The duration in seconds (the schema has checked the form already)."""
    if isinstance(value, int | float):
        return float(value)
    found = re.fullmatch(DURATION_PATTERN, value.strip())
    if found is None:
        raise ValueError(f"not a duration: {value!r} (e.g. 90, 90s, 5m, 1h)")
    number = value.strip().rstrip("smh").strip()
    return float(number) * _UNITS[found.group(2) or ""]


def duration_schema(description: str) -> dict:
    return {
        "description": description + " (seconds, or text such as 90s, 5m, 1h)",
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "string", "pattern": DURATION_PATTERN},
        ],
    }
