"""Alembic, driven in code: the migration scripts are package data, ``retrovue/migrations/``
(the top-level ``migrations/`` of a checkout is a symlink to it)."""

from __future__ import annotations

import atexit
import functools
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

_extracted = ExitStack()
atexit.register(_extracted.close)


@functools.cache
def migrations_dir() -> Path:
    """The scripts as a real directory, as Alembic's ``script_location`` needs: ``files()`` of an
    ordinary (or editable) install already is one, ``as_file`` then returns it unchanged."""
    return _extracted.enter_context(resources.as_file(resources.files("retrovue") / "migrations"))


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    # a ConfigParser value: a literal % must be doubled
    cfg.set_main_option("script_location", str(migrations_dir()).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    command.upgrade(alembic_config(connection), revision)
