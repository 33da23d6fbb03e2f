"""Database failures told in one line: the cause and the database, never the driver's dump.

SQLAlchemy's text of an error carries the statement, its parameters and a link to its docs, and
a driver's message may run on over several lines (PostgreSQL adds ``LINE 1: …``).  An operator
needs the first line of the driver's own message and which database it came from; the rest is
in the traceback ``--debug`` prints.
"""

from __future__ import annotations

import sqlite3
import sys
from urllib.parse import unquote

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from retrovue.errors import DatabaseError
from retrovue.redact import REDACTED, redact_url

PREFIX = "Database operation failed"

#: PostgreSQL SQLSTATEs and SQLite message fragments that mean the schema is not what we expect
_SCHEMA_SQLSTATES = {"42703", "42P01"}  # undefined_column, undefined_table
_SCHEMA_PHRASES = ("no such column", "no such table", "has no column named")

_HINTS = {
    "readonly database": "the database cannot be written here: check the file's permissions "
    "(and its directory's) or the URL's mode",
    "read-only transaction": "the database cannot be written here: connect as a user who may write",
    "database is locked": "another process is writing to this database; try again when it is done",
}


def is_database_failure(exc: BaseException) -> bool:
    """A failure of SQLAlchemy or of a driver used directly (the bulk paths call it raw)."""
    return isinstance(exc, (SQLAlchemyError, *_driver_errors()))


def _driver_errors() -> tuple[type[BaseException], ...]:
    # psycopg is only loaded for PostgreSQL: an error of it cannot exist before it is imported
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error,) if psycopg is None else (sqlite3.Error, psycopg.Error)


def describe(exc: BaseException) -> str:
    """The failure's cause in one line: the first line of the driver's message."""
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    line = text.splitlines()[0].strip() if text else ""
    return redact_url(line or type(cause).__name__)


def database_error(exc: BaseException, url: str | URL | None = None) -> DatabaseError:
    """``exc`` as one ``DatabaseError`` line naming the database (its password redacted)."""
    where = _display(url)
    cause = describe(exc)
    if _is_connect_failure(exc) and where:
        message = f"{PREFIX}: cannot connect to {where}: {cause}"
    else:
        on = f" on {where}" if where else ""
        message = f"{PREFIX}{on}: {cause}"
    return DatabaseError(message, hint=_hint(exc, cause))


def _display(url: str | URL | None) -> str | None:
    if url is None:
        return None
    if isinstance(url, str):
        return redact_url(url)  # as the operator wrote it
    # an engine's URL renders its parts percent-encoded: show them as they were given
    masked = url.set(password=REDACTED) if url.password else url
    return unquote(masked.render_as_string(hide_password=False))


def _is_connect_failure(exc: BaseException) -> bool:
    # SQLAlchemy raises a failed connect with no statement attached: nothing was executed yet
    return isinstance(exc, DBAPIError) and exc.statement is None


def _hint(exc: BaseException, cause: str) -> str | None:
    folded = cause.casefold()
    for phrase, hint in _HINTS.items():
        if phrase in folded:
            return hint
    cause_exc = getattr(exc, "orig", None) or exc
    if getattr(cause_exc, "sqlstate", None) in _SCHEMA_SQLSTATES or any(
        phrase in folded for phrase in _SCHEMA_PHRASES
    ):
        return "the database schema is not the one this retrovue expects: see `retrovue db check`"
    return None
