"""Alembic, driven in code: the migration scripts are package data, ``retrovue/migrations/``
(the top-level ``migrations/`` of a checkout is a symlink to it).

Migrations run inside the caller's one transaction (``env.py`` joins it), under a migration
lock, so a database is either migrated or untouched: never half-built by a killed process, and
never migrated twice by two processes starting at once.
"""

from __future__ import annotations

import atexit
import enum
import functools
from contextlib import ExitStack
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from retrovue.errors import DatabaseError

_extracted = ExitStack()
atexit.register(_extracted.close)

#: the PostgreSQL advisory lock every migrating process takes (apart from the apply lock's key)
MIGRATION_LOCK_KEY = 0x5256_4D49_4752_4154  # "RVMIGRAT"


class Schema(enum.Enum):
    EMPTY = "empty"  # no tables at all: a new database
    CURRENT = "current"  # at the newest revision this retrovue has
    BEHIND = "behind"  # at an older revision of this retrovue: `db upgrade` moves it on
    NEWER = "newer"  # at a revision this retrovue does not know: a newer retrovue made it
    FOREIGN = "foreign"  # tables, but no retrovue revision


@dataclass(frozen=True)
class SchemaState:
    revision: str | None
    status: Schema


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


@functools.cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return _scripts().get_current_head()


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def schema_state(connection: Connection) -> SchemaState:
    revision = current_revision(connection)
    if revision is None:
        empty = not inspect(connection).get_table_names()
        return SchemaState(None, Schema.EMPTY if empty else Schema.FOREIGN)
    if revision == head_revision():
        return SchemaState(revision, Schema.CURRENT)
    if revision in known_revisions():
        return SchemaState(revision, Schema.BEHIND)
    return SchemaState(revision, Schema.NEWER)


def take_migration_lock(connection: Connection) -> None:
    """Serialise migrating processes until the caller's transaction ends.  On SQLite the
    transaction itself is the lock (the migrating engine opens it with ``BEGIN IMMEDIATE``)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Run the migration scripts in the caller's transaction; the caller commits."""
    command.upgrade(alembic_config(connection), revision)
    _check_foreign_keys(connection)


def _check_foreign_keys(connection: Connection) -> None:
    # the migrating SQLite connection runs with foreign keys off, so that a table rebuilt by a
    # batch migration does not cascade deletes into its children: check what it left instead
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        first = broken[0]
        raise DatabaseError(
            f"migration left {len(broken)} row(s) breaking a foreign key "
            f"(first: table {first[0]} row {first[1]} -> {first[2]}); nothing was changed"
        )
