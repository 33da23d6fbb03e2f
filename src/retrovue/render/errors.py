"""How a typed error is reported: the one ``{"status": "error", …}`` document of --json, and the
``Error:`` lines on stderr (hints indented under them).  ``scrub`` takes out the secrets the run
has learnt, before any escaping."""

from __future__ import annotations

from collections.abc import Callable

from retrovue.errors import ConfigError, RetrovueError
from retrovue.render.values import one_line, terminal_text


def error_document(code: str, message: str, details: dict | None = None) -> dict:
    return {"status": "error", "code": code, "message": message, **(details or {})}


def error_json(exc: RetrovueError, scrub: Callable[[str], str] = str) -> dict:
    details = dict(exc.details)
    if exc.context:
        details["context"] = exc.context
    if isinstance(exc, ConfigError):
        details.setdefault("context", {})["diagnostics"] = [d.to_json() for d in exc.diagnostics]
    return error_document(exc.code, scrub(exc.message), details)


def error_lines(
    exc: RetrovueError, scrub: Callable[[str], str] = str, *, diagnostics: bool = True
) -> list[str]:
    """``diagnostics``: a config error's diagnostics one a line (False: only their count)."""
    if isinstance(exc, ConfigError):
        count = len(exc.diagnostics)
        lines = [f"Error: invalid config ({count} problem{'s' if count != 1 else ''})"]
        if diagnostics:
            lines += [terminal_text(f"  {scrub(str(d))}") for d in exc.diagnostics]
    else:  # an error that found several problems in one pass has one line for each
        messages = getattr(exc, "messages", None) or [exc.message]
        lines = [f"Error: {one_line(scrub(line))}" for line in messages]
    if exc.hint:  # hints list stored names (an ambiguous selector's candidates): escaped too
        lines.append(terminal_text(f"  {scrub(exc.hint)}"))
    return lines
