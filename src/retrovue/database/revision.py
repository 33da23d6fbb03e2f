"""Where a database's schema stands, read without Alembic.

Every command that opens a database asks this first, and the common answer is "at the newest
revision": that needs one query and the constant below, not Alembic (~85 ms of imports).
Alembic (``retrovue.database.migrate``) loads only when a migration must run, or when a database
at another revision must be told apart as older or newer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import Connection, inspect, text

from retrovue.errors import DatabaseError

#: the newest migration in ``retrovue/migrations/versions``; a new migration must update it
#: (tests/test_migrations.py compares it with Alembic's head)
HEAD_REVISION = "0006"

#: Alembic's version table (its default name, in the connection's default schema)
VERSION_TABLE = "alembic_version"


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


def current_revision(connection: Connection) -> str | None:
    """The revision in the version table; None without one (what Alembic would answer)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(rows) > 1:
        raise DatabaseError(
            f"Database has {len(rows)} schema revisions ({', '.join(sorted(rows))}); "
            "retrovue's migrations have one head"
        )
    return rows[0] if rows else None


def schema_state(connection: Connection) -> SchemaState:
    revision = current_revision(connection)
    if revision is None:
        empty = not inspect(connection).get_table_names()
        return SchemaState(None, Schema.EMPTY if empty else Schema.FOREIGN)
    if revision == HEAD_REVISION:
        return SchemaState(revision, Schema.CURRENT)
    from retrovue.database.migrate import known_revisions  # Alembic: only off the common path

    if revision in known_revisions():
        return SchemaState(revision, Schema.BEHIND)
    return SchemaState(revision, Schema.NEWER)
