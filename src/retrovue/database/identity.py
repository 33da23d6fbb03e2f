"""Whether two database URLs reach the same database, asked of what they reach.

``--test-db`` must never run on production, and one database has many spellings: ``localhost``
for ``127.0.0.1``, ``postgresql://`` for ``postgresql+psycopg://``, an added
``?application_name=``, ``sqlite+pysqlite://`` for ``sqlite://``, a symlink or a hard link to
the same file.  So sameness is never read off the text: PostgreSQL is asked for its cluster's
system identifier (set once by initdb) and the database's name, a SQLite file for its device and
inode.  When either cannot be asked, nothing proves the two differ, and the guard refuses.

Loaded only for ``--test-db``: it connects to both databases, which no other command pays for.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from retrovue.database.engine import ENV_TEST_URL, _parse, make_engine, sqlite_file
from retrovue.database.failures import describe
from retrovue.errors import TestDbIsProductionError, TestDbUnverifiedError
from retrovue.redact import redact_url

_POSTGRESQL_IDENTITY = text("SELECT system_identifier, current_database() FROM pg_control_system()")


@dataclass(frozen=True)
class DatabaseIdentity:
    """What a URL reaches: equal identities are one database, whatever the URLs say."""

    kind: str  # "postgresql", "sqlite-file" (exists), "sqlite-path" (not yet created)
    key: tuple


def refuse_production_as_test(test_url: str, production_url: str) -> None:
    """Raise unless the test database is provably not the production database."""
    if _backend(test_url) != _backend(production_url):
        return  # a SQLite file is never a PostgreSQL database: nothing to ask either
    pair = (test_url, production_url)
    test = _identity_for_guard("test", test_url, pair)
    production = _identity_for_guard("production", production_url, pair)
    if test is not None and test == production:
        raise TestDbIsProductionError(
            f"--test-db refused: the test database {redact_url(test_url)} is the production "
            f"database {redact_url(production_url)}",
            hint=f"set {ENV_TEST_URL} to a separate database",
        )


def database_identity(url: str) -> DatabaseIdentity | None:
    """What ``url`` reaches; None for an in-memory SQLite database, which is private to its
    connection and so the same as no other.  Raises what connecting or looking raises."""
    if _backend(url) == "postgresql":
        return _postgresql_identity(url)
    return _sqlite_identity(url)


def _backend(url: str) -> str:
    return _parse(url).get_backend_name()


def _identity_for_guard(role: str, url: str, pair: tuple[str, str]) -> DatabaseIdentity | None:
    """``url``'s identity, or the refusal naming both databases (``pair``: test, production)."""
    try:
        return database_identity(url)
    except (SQLAlchemyError, OSError) as exc:
        test_url, production_url = pair
        raise TestDbUnverifiedError(
            f"--test-db refused: cannot tell whether the test database {redact_url(test_url)} "
            f"is the production database {redact_url(production_url)}: the {role} database "
            f"cannot be reached: {describe(exc)}",
            hint="--test-db runs only once both databases answer and prove to be different ones",
        ) from exc


def _postgresql_identity(url: str) -> DatabaseIdentity:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            system_identifier, database = conn.execute(_POSTGRESQL_IDENTITY).one()
    finally:
        engine.dispose()
    return DatabaseIdentity("postgresql", (system_identifier, database))


def _sqlite_identity(url: str) -> DatabaseIdentity | None:
    path = sqlite_file(url)
    if path is None:
        return None
    resolved = Path(os.path.realpath(path))
    try:
        found = resolved.stat()
    except FileNotFoundError:
        # not created yet: only the same path can become the same file
        return DatabaseIdentity("sqlite-path", (str(resolved),))
    return DatabaseIdentity("sqlite-file", (found.st_dev, found.st_ino))
