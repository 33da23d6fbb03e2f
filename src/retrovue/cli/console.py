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
from retrovue.errors import RetrovueError
from retrovue.render.color import colorize
from retrovue.render.errors import error_json, error_lines
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


def report_error(exc: RetrovueError, json_output: bool, debug: bool, scrub=str) -> None:
    if debug:
        traceback.print_exc()
    if json_output:
        click.echo(scrub(json.dumps(error_json(exc, scrub), default=str)))
    # with --json, the document on stdout holds the diagnostics: once is enough
    for line in error_lines(exc, scrub, diagnostics=not json_output):
        click.echo(line, err=True)


def use_color(no_color_flag: bool, stream=None) -> bool:
    """Colour only for a person at a terminal: not when piped, nor with NO_COLOR or --no-color."""
    stream = stream if stream is not None else sys.stdout
    if no_color_flag or os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
