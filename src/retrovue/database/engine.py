"""Which database, how to connect, and whether its schema is current."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from retrovue.database import migrate
from retrovue.errors import DatabaseError, SchemaOutOfDateError, TestDbIsProductionError
from retrovue.redact import redact_url

ENV_URL = "RETROVUE_DATABASE_URL"
ENV_TEST_URL = "RETROVUE_TEST_DATABASE_URL"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(base) / "retrovue"


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass(frozen=True)
class DatabaseTarget:
    url: str
    is_test: bool

    @property
    def display_url(self) -> str:
        return redact_url(self.url)


def _normalise(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=os.path.realpath(os.path.abspath(parsed.database)))
    return parsed.render_as_string(hide_password=False)


def resolve_target(db_option: str | None, test_db: bool) -> DatabaseTarget:
    """Production: --db, else $RETROVUE_DATABASE_URL, else the XDG default.  --test-db: its own URL,
    refused when it is the production database after normalisation."""
    production = (
        db_option or os.environ.get(ENV_URL) or _sqlite_url(default_data_dir() / "retrovue.db")
    )
    if not test_db:
        return DatabaseTarget(production, False)
    test_url = os.environ.get(ENV_TEST_URL) or _sqlite_url(default_data_dir() / "retrovue-test.db")
    try:
        same = _normalise(test_url) == _normalise(production)
    except ArgumentError as exc:
        raise DatabaseError(f"Database operation failed: invalid database URL: {exc}") from exc
    if same:
        raise TestDbIsProductionError(
            "--test-db refused: the test database URL is the production database URL",
            hint=f"set {ENV_TEST_URL} to a separate database",
        )
    return DatabaseTarget(test_url, True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers never block the writer; NORMAL is durable across application crashes in WAL
    # mode.  A bigger page cache measured 1.15–1.5× faster bulk inserts on this machine.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-131072")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(
            f"Database operation failed: invalid database URL '{redact_url(url)}'"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, connect_args={"connect_timeout": 10})
    raise DatabaseError(
        f"Database operation failed: unsupported database '{backend}' (use sqlite or postgresql)"
    )


@contextmanager
def database_errors(target: DatabaseTarget, engine: Engine | None = None) -> Iterator[None]:
    """Turn driver errors into DatabaseError with the (password-free) URL and the first line."""
    try:
        yield
    except OperationalError as exc:
        if engine is not None:
            engine.dispose()
        raise DatabaseError(
            f"Database operation failed: cannot connect to {target.display_url}: {_first_line(exc)}"
        ) from exc
    except SQLAlchemyError as exc:
        if engine is not None:
            engine.dispose()
        raise DatabaseError(f"Database operation failed: {_first_line(exc)}") from exc


def open_database(target: DatabaseTarget) -> Engine:
    """Connect, create and migrate a new (empty) database, refuse an out-of-date one."""
    engine = make_engine(target.url)
    with database_errors(target, engine), engine.begin() as conn:
        current = migrate.current_revision(conn)
        head = migrate.head_revision()
        if current is None:
            if inspect(conn).get_table_names():
                raise SchemaOutOfDateError(
                    f"Database {target.display_url} has tables but no retrovue schema revision",
                    hint="run `retrovue db upgrade` on an empty database, or point --db elsewhere",
                )
            migrate.upgrade(conn)
        elif current != head:
            raise SchemaOutOfDateError(
                f"Database schema is out of date (revision {current}, head {head})",
                hint="run `retrovue db upgrade`",
            )
    return engine


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return redact_url(text.splitlines()[0] if text else type(exc).__name__)
