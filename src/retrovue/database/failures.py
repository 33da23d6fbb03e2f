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
#: PostgreSQL SQLSTATEs of a session the server ended: admin_shutdown (pg_terminate_backend),
#: crash_shutdown, idle_session_timeout, idle_in_transaction_session_timeout
_LOST_SQLSTATES = {"57P01", "57P02", "57P05", "25P03"}

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


def database_error(
    exc: BaseException, url: str | URL | None = None, *, during: str | None = None
) -> DatabaseError:
    """``exc`` as one ``DatabaseError`` line naming the database (its password redacted).
    ``during``: what the connection was doing, said if it was lost meanwhile ("the write")."""
    where = _display(url)
    if _lost_connection(exc):
        return _lost(exc, where, during)
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


def lost_connection(exc: BaseException) -> bool:
    """Whether ``exc`` is a connection lost or refused: what a long-lived process (a worker)
    waits out and reconnects after, where a command fails."""
    from sqlalchemy.exc import OperationalError

    return _lost_connection(exc) or isinstance(exc, OperationalError)


def _lost_connection(exc: BaseException) -> bool:
    """An open connection that is gone, not one that never opened: SQLAlchemy invalidated it on
    finding it closed (a rollback on it fails with no statement attached, like a connect), or
    the server said it ended the session (the bulk paths get the driver's error unwrapped)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    cause = getattr(exc, "orig", None) or exc
    return getattr(cause, "sqlstate", None) in _LOST_SQLSTATES


def _lost(exc: BaseException, where: str | None, during: str | None) -> DatabaseError:
    to = f" to {where}" if where else ""
    meanwhile = f" during {during}" if during else ""
    return DatabaseError(
        f"{PREFIX}: the connection{to} was lost{meanwhile}: {describe(_first_failure(exc))}",
        hint="the server ended the session or the network dropped it; "
        "run the command again once the database answers",
    )


def _first_failure(exc: BaseException) -> BaseException:
    """The database failure that met the lost connection first: what follows it in the chain
    (the rollback on the dead connection) only echoes "the connection is lost"."""
    while exc.__context__ is not None and is_database_failure(exc.__context__):
        exc = exc.__context__
    return exc


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
