"""What a command prints through: stdout carries the result only, stderr everything else.

Every line is scrubbed of the secrets this run has learnt.  ``report`` is the one writer of
error output: an ``Error:`` line (hints indented under it) and, with ``--json``, the one
``{"status": "error", …}`` document on stdout.
"""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass

import click

from retrovue.app.context import Context
from retrovue.errors import ConfigError, RetrovueError
from retrovue.render.values import one_line, terminal_text


@dataclass
class Console:
    ctx: Context
    json_output: bool = False
    debug: bool = False

    def scrub(self, text: str) -> str:
        return self.ctx.scrub(text)

    def out(self, text: str) -> None:
        click.echo(terminal_text(self.scrub(text)), nl=False)

    def lines(self, lines: list[str]) -> None:
        """One element per line: a line break inside an element is escaped, not printed."""
        click.echo("".join(one_line(self.scrub(line)) + "\n" for line in lines), nl=False)

    def emit_json(self, document: dict) -> None:
        click.echo(self.scrub(json.dumps(document, indent=2, default=str)))

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
        for d in exc.diagnostics:
            click.echo(terminal_text(f"  {scrub(str(d))}"), err=True)
    else:  # an error that found several problems in one pass has one line for each
        for line in getattr(exc, "messages", None) or [exc.message]:
            click.echo(f"Error: {scrub(line)}", err=True)
    if exc.hint:
        click.echo(f"  {scrub(exc.hint)}", err=True)


def stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
