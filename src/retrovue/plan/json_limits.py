"""Where a JSON text goes past what Python's ``json`` module reads: nesting deeper than the
interpreter's recursion allows, and integers longer than ``int`` converts from text (4,300 digits).
``json`` says neither where; these find the place, so the error can name a line and column.  They
run only after a load failed, so their pure-Python pace costs nothing on the normal path."""

from __future__ import annotations

import re

#: deeper than any document retrovue writes (a plan nests about ten levels)
MAX_DEPTH = 100

_LONG_NUMBER = re.compile(r"-?\d{4000,}")


def line_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def too_deep_at(text: str, limit: int = MAX_DEPTH) -> int | None:
    """The offset of the first bracket that opens level ``limit + 1``; None if none does."""
    depth = 0
    in_string = escaped = False
    for offset, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return offset
        elif char in "]}":
            depth -= 1
    return None


def long_number_at(text: str) -> int | None:
    """The offset of a number too long to convert (strings included: a cheap over-approximation
    that only ever runs on a text the loader already refused)."""
    match = _LONG_NUMBER.search(text)
    return match.start() if match else None
