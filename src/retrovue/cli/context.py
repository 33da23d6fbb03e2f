"""What every command needs, wired once: options, database, registry, redaction, output.

A thin front door (style guideline 10): it holds and connects things, it compares nothing.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import cached_property

import click
from sqlalchemy import Engine

from retrovue.cli.logging import configure_logging
from retrovue.database.engine import DatabaseTarget, open_database, resolve_target
from retrovue.importers.registry import Registry, load_registry
from retrovue.redact import Redactor


@dataclass
class AppContext:
    json_output: bool = False
    test_db: bool = False
    db_url: str | None = None
    debug: bool = False
    log_format: str | None = None
    redactor: Redactor = field(default_factory=Redactor)

    def __post_init__(self) -> None:
        configure_logging(self.log_format, self.scrub)

    def scrub(self, text: str) -> str:
        return self.redactor.scrub(text)

    @cached_property
    def registry(self) -> Registry:
        return load_registry()

    @cached_property
    def target(self) -> DatabaseTarget:
        return resolve_target(self.db_url, self.test_db)

    @cached_property
    def engine(self) -> Engine:
        return open_database(self.target)

    def register_secrets(self, config: dict, sensitive: set[str] | frozenset[str]) -> None:
        for key in sensitive:
            self.redactor.add(config.get(key))

    # -- output: stdout carries the result only ------------------------------------------------

    def out(self, text: str) -> None:
        click.echo(self.scrub(text), nl=False)

    def emit_json(self, document: dict) -> None:
        click.echo(self.scrub(json.dumps(document, indent=2, sort_keys=False, default=str)))

    def err(self, text: str) -> None:
        click.echo(self.scrub(text), err=True)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()


def stdin_is_tty() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()
