"""Whether a PostgreSQL database exists, and creating it, asked of the server's maintenance
database.

A plan of a database that does not exist yet reads it as empty, on PostgreSQL as on SQLite; an
apply (or ``db upgrade``) creates it when the role may.  libpq reports a missing database only in
its message text, so the question is put to the server instead: connect to ``postgres`` (the
maintenance database every cluster has) with the same credentials and look in ``pg_database``.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from retrovue.errors import DatabaseError

MAINTENANCE_DATABASE = "postgres"
#: SQLSTATEs: the database exists already (a concurrent first use made it); no privilege
DUPLICATE_DATABASE, INSUFFICIENT_PRIVILEGE = "42P04", "42501"


def _maintenance(url: URL):
    return create_engine(
        url.set(database=MAINTENANCE_DATABASE),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 10},
    )


def database_missing(url: URL) -> bool:
    """True only when the server answers and has no database of that name (False when it
    cannot be asked: the original connection error then stands)."""
    if not url.database or url.database == MAINTENANCE_DATABASE:
        return False
    engine = _maintenance(url)
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).first()
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return found is None


def create_database(url: URL, display_url: str) -> None:
    """CREATE DATABASE, owned by the connecting role; a refusal names the exact fix."""
    engine = _maintenance(url)
    name = url.database.replace('"', '""')
    try:
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        code = getattr(getattr(exc, "orig", None), "sqlstate", None)
        if code == DUPLICATE_DATABASE:
            return
        role = url.username or "the connecting role"
        raise DatabaseError(
            f"Database {display_url} does not exist, and {role} may not create it",
            hint=(
                f'create it as a superuser: CREATE DATABASE "{url.database}" OWNER "{role}"; '
                f'or let the role create databases: ALTER ROLE "{role}" CREATEDB'
                if code == INSUFFICIENT_PRIVILEGE
                else f'create it (CREATE DATABASE "{url.database}"), then run the command again'
            ),
        ) from exc
    finally:
        engine.dispose()
