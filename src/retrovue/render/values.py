"""How single values are written in every human and JSON output."""

from __future__ import annotations

import shlex
import uuid
from datetime import datetime

from retrovue.model.time import as_utc
from retrovue.redact import REDACTED


def iso(value: datetime | None) -> str | None:
    """ISO-8601 UTC with an explicit offset; SQLite hands back naive datetimes that are UTC."""
    return None if value is None else as_utc(value).isoformat()


def uid(value: uuid.UUID | str | None) -> str | None:
    """A UUID in its dashed form, whatever spelling the database handed back."""
    if value is None:
        return None
    return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


def yes_no(value: bool) -> str:
    return "Yes" if value else "No"


def redacted_config(config: dict, sensitive: set[str] | frozenset[str]) -> dict:
    return {
        k: (REDACTED if k in sensitive and v is not None else v) for k, v in sorted(config.items())
    }


def count_noun(n: int, singular: str, plural: str | None = None) -> str:
    """`2,931 assets`, `1 asset`."""
    return f"{n:,} {singular if n == 1 else (plural or singular + 's')}"


def counts_head(c) -> str:
    """The one counts notation, in plans and command output alike: +new ~changed -missing =unchanged."""
    return f"+{c.new:,} ~{c.changed:,} -{c.missing:,} ={c.unchanged:,}"


#: the Unicode bidi controls: invisible, they reorder what follows (``clip<U+202E>exe.mkv`` reads
#: as ``clipvkm.exe``), so a name could show a reviewer something other than itself
_BIDI_CONTROLS = [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]


def _escapes(keep: str) -> dict[int, str]:
    controls = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029, *_BIDI_CONTROLS]
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x1B: "\\x1b"}
    return {
        c: named.get(c, f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")
        for c in controls
        if chr(c) not in keep
    }


_ALL_CONTROLS = _escapes("")
_INSIDE_TEXT = _escapes("\n\t")


def one_line(text: str) -> str:
    """A line for a terminal: every control character escaped, so an upstream name can neither
    clear the screen, retitle the window, nor start a line of its own (a forged summary)."""
    return text.translate(_ALL_CONTROLS)


def terminal_text(text: str) -> str:
    """Multi-line text for a terminal: control characters escaped, line breaks and tabs kept."""
    return text.translate(_INSIDE_TEXT)


def bash_word(text: str) -> str:
    """``text`` as one bash word, written for click's completion script, which reads each
    ``type,value`` line with ``IFS=',' read`` (no ``-r``)."""
    word = shlex.quote(text)
    if word == text and "," in text:  # read drops a value's trailing comma; quotes keep it
        word = f"'{text}'"  # shlex found it safe, so it holds no single quote
    return word.replace("\\", "\\\\")  # read without -r takes one backslash of each pair
