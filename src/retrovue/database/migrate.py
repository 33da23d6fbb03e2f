"""Alembic, driven in code: the migration scripts are package data, ``retrovue/migrations/``
(the top-level ``migrations/`` of a checkout is a symlink to it).

Only running a migration, or telling an older revision from a newer one, imports this module
(and Alembic with it); reading where a schema stands is ``retrovue.database.revision``.

Migrations run inside the caller's one transaction (``env.py`` joins it), under a migration
lock, so a database is either migrated or untouched: never half-built by a killed process, and
never migrated twice by two processes starting at once.
"""

from __future__ import annotations

import atexit
import functools
from contextlib import ExitStack
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

# where a schema stands is read without Alembic; re-exported for the callers that migrate
from retrovue.database.revision import HEAD_REVISION as HEAD_REVISION
from retrovue.database.revision import Schema as Schema
from retrovue.database.revision import SchemaState as SchemaState
from retrovue.database.revision import current_revision as current_revision
from retrovue.database.revision import schema_state as schema_state
from retrovue.errors import DatabaseError

_extracted = ExitStack()
atexit.register(_extracted.close)

#: the PostgreSQL advisory lock every migrating process takes (apart from the apply lock's key)
MIGRATION_LOCK_KEY = 0x5256_4D49_4752_4154  # "RVMIGRAT"


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
    """Alembic's head: what ``revision.HEAD_REVISION`` must equal (the test suite checks)."""
    return _scripts().get_current_head()


@functools.cache
def known_revisions() -> frozenset[str]:
    return frozenset(script.revision for script in _scripts().walk_revisions())


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
