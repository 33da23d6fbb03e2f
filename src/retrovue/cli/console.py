"""What a command prints through: stdout carries the result only, stderr everything else.

Every line is scrubbed of the secrets this run has learnt.  ``report`` is the one writer of
error output: an ``Error:`` line (hints indented under it) and, with ``--json``, the one
``{"status": "error", …}`` document on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from typing import TypeVar

import click

from retrovue.app.context import Context
from retrovue.errors import ConfigError, RetrovueError
from retrovue.render.values import one_line, terminal_text

#: what a streamed output gathers before each write
_STREAM_CHARS = 64 * 1024
_STREAM_LINES = 500

T = TypeVar("T")


@dataclass
class Console:
    ctx: Context
    json_output: bool = False
    debug: bool = False
    color: bool = False  # decided once per run: see use_color

    def scrub(self, text: str) -> str:
        return self.ctx.scrub(text)

    def out(self, text: str) -> None:
        click.echo(self._paint(terminal_text(self.scrub(text))), nl=False)

    def lines(self, lines: list[str]) -> None:
        """One element per line: a line break inside an element is escaped, not printed."""
        text = "".join(one_line(self.scrub(line)) + "\n" for line in lines)
        click.echo(self._paint(text), nl=False)

    def stream_lines(self, lines: Iterable[str]) -> None:
        """``lines`` as ``lines`` prints them, written as they come, a batch at a time: a listing
        too long to hold is never held."""
        iterator = iter(lines)
        while batch := list(islice(iterator, _STREAM_LINES)):
            self.lines(batch)

    def _paint(self, text: str) -> str:
        # after escaping, so a name from upstream can never carry its own colour codes
        return colorize(text) if self.color else text

    def show(self, value: T, document: Callable[[T], dict], human: Callable[[T], str | list[str]]):
        """``value`` as --json asks (one document), else for a person: a text as it is, or
        lines, each escaped as ``lines`` does."""
        if self.json_output:
            self.emit_json(document(value))
            return
        shown = human(value)
        if isinstance(shown, str):
            self.out(shown)
        else:
            self.lines(shown)

    def emit_json(self, document: dict) -> None:
        click.echo(self.scrub(json.dumps(document, indent=2, default=str)))

    def stream(self, chunks: Iterable[str]) -> None:
        """A JSON document written as its pieces come, scrubbed and written ~64 KiB at a time
        (one write per piece costs more than the listing).  The renderer's pieces are whole
        values, so a secret is never cut in two."""
        pending: list[str] = []
        size = 0
        for chunk in chunks:
            pending.append(chunk)
            size += len(chunk)
            if size >= _STREAM_CHARS:
                click.echo(self.scrub("".join(pending)), nl=False)
                pending, size = [], 0
        click.echo(self.scrub("".join(pending)), nl=False)

    def err(self, text: str) -> None:
        click.echo(terminal_text(self.scrub(text)), err=True)

    def report(self, exc: RetrovueError) -> None:
        report_error(exc, self.json_output, self.debug, self.scrub)


def error_document(code: str, message: str, details: dict | None = None) -> dict:
    return {"status": "error", "code": code, "message": message, **(details or {})}


def report_error(exc: RetrovueError, json_output: bool, debug: bool, scrub=str) -> None:
    if debug:
        traceback.print_exc()
    message = scrub(exc.message)
    details = dict(exc.details)
    if exc.context:
        details["context"] = exc.context
    if isinstance(exc, ConfigError):
        details.setdefault("context", {})["diagnostics"] = [d.to_json() for d in exc.diagnostics]
    if json_output:
        click.echo(scrub(json.dumps(error_document(exc.code, message, details), default=str)))
    if isinstance(exc, ConfigError):
        count = len(exc.diagnostics)
        click.echo(f"Error: invalid config ({count} problem{'s' if count != 1 else ''})", err=True)
        if not json_output:  # the document on stdout holds them; once is enough
            for d in exc.diagnostics:
                click.echo(terminal_text(f"  {scrub(str(d))}"), err=True)
    else:  # an error that found several problems in one pass has one line for each
        for line in getattr(exc, "messages", None) or [exc.message]:
            click.echo(f"Error: {one_line(scrub(line))}", err=True)
    if exc.hint:  # hints list stored names (an ambiguous selector's candidates): escaped too
        click.echo(terminal_text(f"  {scrub(exc.hint)}"), err=True)


# Terraform's colours for a plan line's leading symbol (after its indentation)
_SYMBOL_STYLES = {"+": "green", "~": "yellow", "-": "red", "!": "bold red"}


def use_color(no_color_flag: bool, stream=None) -> bool:
    """Colour only for a person at a terminal: not when piped, nor with NO_COLOR or --no-color."""
    stream = stream if stream is not None else sys.stdout
    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def colorize(text: str) -> str:
    """Each line whose first non-blank character is a plan symbol, in that symbol's colour."""
    from rich.color import ColorSystem
    from rich.style import Style

    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\n")
        style = _SYMBOL_STYLES.get(body.lstrip(" ")[:1])
        if style and body:
            line = (
                Style.parse(style).render(body, color_system=ColorSystem.STANDARD)
                + line[len(body) :]
            )
        out.append(line)
    return "".join(out)


def stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
