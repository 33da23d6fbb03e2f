"""Which database, how to connect, and whether its schema is current."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from retrovue.database.failures import database_error
from retrovue.database.interrupts import finalize_interrupted_statement
from retrovue.database.revision import HEAD_REVISION, Schema, SchemaState, schema_state
from retrovue.errors import DatabaseError, SchemaOutOfDateError, SchemaTooNewError
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


def resolve_target(db_option: str | None, test_db: bool) -> DatabaseTarget:
    """Production: --db, else $RETROVUE_DATABASE_URL, else the XDG default.  --test-db: its own URL,
    refused unless both databases answer and prove to be different ones (``database.identity``:
    it connects to both, so only --test-db loads it)."""
    production = (
        db_option or os.environ.get(ENV_URL) or _sqlite_url(default_data_dir() / "retrovue.db")
    )
    if not test_db:
        return DatabaseTarget(production, False)
    test_url = os.environ.get(ENV_TEST_URL) or _sqlite_url(default_data_dir() / "retrovue-test.db")
    from retrovue.database.identity import refuse_production_as_test

    refuse_production_as_test(test_url, production)
    return DatabaseTarget(test_url, True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL: readers never block the writer; NORMAL is durable across application crashes in WAL
    # mode.  A 64 MiB page cache measured 1.2-1.3x faster bulk inserts than the default 2 MiB
    # on this machine, and as fast as 128 MiB at 200,000 and 1,000,000 rows, whose cache only
    # added to a first ingest's peak memory.  The busy timeout comes first: switching a new file
    # to WAL must wait for, not fail on, a neighbour.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def driver_cursor(conn: Connection) -> closing:
    """A cursor of the raw driver connection under ``conn``, inside its transaction (closed on
    exit): for the bulk paths that hand the driver plain tuples (``execute.bulk``,
    ``observe.db.load_asset_index``).  Errors come from the driver itself, not SQLAlchemy;
    ``database.failures`` tells both."""
    return closing(conn.connection.dbapi_connection.cursor())


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(
            f"Database operation failed: invalid database URL '{redact_url(url)}'"
        ) from exc


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for another backend or an in-memory database."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if parsed.query.get("uri") in ("true", "1") and database.startswith("file:"):
        if parsed.query.get("mode") == "memory":
            return None
        # file:/abs, file:///abs and file://localhost/abs all name /abs
        database = database[len("file:") :].removeprefix("//localhost").removeprefix("//")
    if database in ("", ":memory:"):
        return None
    return Path(database).expanduser()


#: what SQLite keeps beside a database file: its rollback journal, its WAL and the WAL's index
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")


def database_files(url: str) -> frozenset[str]:
    """The real paths of the files a SQLite database lives in (the file and its companions, which
    every write changes); empty for another backend, whose files are the server's."""
    path = sqlite_file(url)
    if path is None:
        return frozenset()
    real = os.path.realpath(path)
    return frozenset((real, *(real + suffix for suffix in SQLITE_COMPANIONS)))


def make_engine(
    url: str, *, application_name: str | None = None, pool_size: int | None = None
) -> Engine:
    """An engine for this URL; connecting creates nothing but a SQLite file in an existing folder.
    ``application_name`` (PostgreSQL) names its sessions in ``pg_stat_activity``; such an engine
    also tests a pooled connection before handing it out, as a long-lived process must (a
    session the server ended is replaced instead of failing the next unit of work).
    ``pool_size``: connections kept open for that many concurrent units of work (a server's
    threads), plus a few beyond it (else SQLAlchemy's 5, which a server under load outgrows: each
    connection past them is opened and closed per request, a new PostgreSQL backend each time)."""
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    pooling = {} if pool_size is None else {"pool_size": pool_size, "max_overflow": 4}
    if backend == "sqlite":
        engine = create_engine(parsed, **pooling)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "handle_error", finalize_interrupted_statement)
        return engine
    if backend == "postgresql":
        connect_args: dict = {"connect_timeout": 10}
        if application_name is not None:
            connect_args["application_name"] = application_name[:63]  # the server's limit
        return create_engine(
            _psycopg(parsed),
            connect_args=connect_args,
            pool_pre_ping=application_name is not None,
            **pooling,
        )
    raise DatabaseError(
        f"Database operation failed: unsupported database '{backend}' (use sqlite or postgresql)"
    )


def _sqlite_migrating(dbapi_connection, _record) -> None:
    # pysqlite commits each DDL statement on its own; with its transaction handling off, the
    # "begin" listener below opens the one transaction a migration runs in.  Foreign keys are
    # off (checked after the migration instead): a table a batch migration rebuilds must not
    # cascade deletes into its children.  A migration waits long for writers to finish.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def _begin_immediate(conn) -> None:
    # IMMEDIATE takes SQLite's write lock at once: it is the migration lock, and the schema read
    # that follows it sees what any migrating neighbour committed before
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _migrating_engine(url: str) -> Engine:
    """An engine whose transactions hold the migration lock and make DDL transactional."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_migrating)
        event.listen(engine, "begin", _begin_immediate)
    return engine


@contextmanager
def database_errors(target: DatabaseTarget, engine: Engine | None = None) -> Iterator[None]:
    """Turn driver errors into one DatabaseError line naming the (password-free) database."""
    try:
        yield
    except SQLAlchemyError as exc:
        if engine is not None:
            engine.dispose()
        raise database_error(exc, target.url) from exc


# --- the schema a command finds ---------------------------------------------------------------


@dataclass(frozen=True)
class NoDatabase:
    """Where a read finds no retrovue database yet (nothing was created to find out)."""

    database: str  # the URL with any password redacted
    exists: bool  # True: a database without a retrovue schema; False: not even that

    @property
    def state(self) -> str:
        return "has no retrovue schema yet" if self.exists else "does not exist yet"

    @property
    def note(self) -> str:
        """What a plan made against it says."""
        then = "migrates" if self.exists else "creates"
        return f"database {self.database} {self.state}: planned as empty; apply {then} it"


def _refuse(state: SchemaState, target: DatabaseTarget) -> None:
    """Raise unless the schema is one this retrovue can work with as it is."""
    if state.status is Schema.CURRENT:
        return
    if state.status is Schema.NEWER:
        raise _too_new(state, target)
    if state.status is Schema.FOREIGN:
        raise _foreign(target)
    raise SchemaOutOfDateError(
        f"Database schema is out of date (revision {state.revision}, head {HEAD_REVISION})",
        hint="run `retrovue db upgrade`",
    )


def _too_new(state: SchemaState, target: DatabaseTarget) -> SchemaTooNewError:
    return SchemaTooNewError(
        f"Database {target.display_url} has schema revision {state.revision}, made by a newer "
        f"retrovue (this one knows up to {HEAD_REVISION})",
        hint="use the retrovue version that migrated it; `retrovue db upgrade` cannot go back",
    )


def _foreign(target: DatabaseTarget) -> SchemaOutOfDateError:
    return SchemaOutOfDateError(
        f"Database {target.display_url} has tables but no retrovue schema revision",
        hint="`retrovue db upgrade` adds retrovue's tables beside them; "
        "or point --db at an empty database",
    )


def _read_state(engine: Engine) -> SchemaState:
    with engine.connect() as conn:
        return schema_state(conn)


def _psycopg(parsed: URL) -> URL:
    return (
        parsed.set(drivername="postgresql+psycopg") if parsed.drivername == "postgresql" else parsed
    )


def _private_file(path: Path) -> None:
    """A new SQLite file is readable by its owner only: it holds the database's key (saved-plan
    digests, secret fingerprints), as saved plans are 0600 too.  SQLite gives its -wal and -shm
    files the database file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def _create_if_missing(target: DatabaseTarget) -> None:
    """A PostgreSQL database the URL names but nobody created yet is created (as a SQLite file
    is), when the role may; else the refusal names the fix."""
    parsed = _parse(target.url)
    if parsed.get_backend_name() != "postgresql":
        return
    from retrovue.database.pg_catalog import create_database, database_missing

    if database_missing(_psycopg(parsed)):
        create_database(_psycopg(parsed), target.display_url)


def _state_or_missing(engine: Engine, target: DatabaseTarget) -> SchemaState | None:
    """The schema's state; None when the URL names a PostgreSQL database that does not exist
    (asked of the server, so a missing database reads as empty, as a missing SQLite file does)."""
    try:
        return _read_state(engine)
    except OperationalError as exc:
        parsed = _parse(target.url)
        if parsed.get_backend_name() == "postgresql":
            from retrovue.database.pg_catalog import database_missing

            if database_missing(_psycopg(parsed)):
                return None
        raise database_error(exc, target.url) from exc
    except SQLAlchemyError as exc:
        raise database_error(exc, target.url) from exc


def open_database(target: DatabaseTarget, *, pool_size: int | None = None) -> Engine:
    """Connect for work that may write: a new database (no file yet, or an empty PostgreSQL one)
    is created and migrated first; any other must be at the newest revision.  ``pool_size``: as
    ``make_engine``'s."""
    path = sqlite_file(target.url)
    if path is not None:
        _private_file(path)
    elif _parse(target.url).get_backend_name() == "sqlite":
        # the migration runs on a connection of its own, which would get a database of its own
        raise DatabaseError(
            f"Database {target.display_url} is an in-memory SQLite database, which retrovue "
            "cannot migrate or keep",
            hint="give a file: sqlite:///path/to/retrovue.db",
        )
    engine = make_engine(target.url, pool_size=pool_size)
    try:
        state = _state_or_missing(engine, target)
        if state is None:  # a PostgreSQL database not created yet: create it, as SQLite would
            _create_if_missing(target)
            state = _state_or_missing(engine, target)
        if state.status is Schema.EMPTY:
            _, state = migrate_database(target, first_use=True)
        _refuse(state, target)
    except BaseException:
        engine.dispose()
        raise
    return engine


def open_existing(target: DatabaseTarget) -> Engine | NoDatabase:
    """Connect for reading only: create, migrate and write nothing.  A database that does not
    exist yet, or has no schema yet, is a ``NoDatabase`` (it reads as empty)."""
    path = sqlite_file(target.url)
    if path is not None and not path.exists():
        return NoDatabase(target.display_url, exists=False)
    if path is not None and path.is_file() and path.stat().st_size == 0:
        return NoDatabase(target.display_url, exists=True)  # connecting would write into it
    engine = make_engine(target.url)
    try:
        state = _state_or_missing(engine, target)
        if state is None or state.status is Schema.EMPTY:
            engine.dispose()
            return NoDatabase(target.display_url, exists=state is not None)
        _refuse(state, target)
    except BaseException:
        engine.dispose()
        raise
    return engine


def read_schema_state(target: DatabaseTarget) -> SchemaState | NoDatabase:
    """Where the schema stands, reading only (a missing SQLite file is not created)."""
    path = sqlite_file(target.url)
    if path is not None and not path.exists():
        return NoDatabase(target.display_url, exists=False)
    engine = make_engine(target.url)
    try:
        state = _state_or_missing(engine, target)
        return state if state is not None else NoDatabase(target.display_url, exists=False)
    finally:
        engine.dispose()


def migrate_database(
    target: DatabaseTarget, *, first_use: bool = False
) -> tuple[SchemaState, SchemaState]:
    """Migrate to the newest revision in one transaction under the migration lock; the states
    before and after.  ``first_use`` migrates only a database that is still empty once the lock
    is held (a neighbour may have migrated it meanwhile, which is fine)."""
    path = sqlite_file(target.url)
    if path is not None:
        _private_file(path)
    else:
        _create_if_missing(target)
    from retrovue.database import migrate  # Alembic: only where a migration may run
    from retrovue.database.check import remember_if_matching

    engine = _migrating_engine(target.url)
    try:
        with database_errors(target, engine), engine.begin() as conn:
            migrate.take_migration_lock(conn)
            # read again under the lock: another process may have migrated since we looked
            before = schema_state(conn)
            _refuse_upgrade(before, target, first_use)
            if before.status is not Schema.CURRENT:
                migrate.upgrade(conn)
                remember_if_matching(conn)
            after = schema_state(conn)
    finally:
        engine.dispose()
    return before, after


def _refuse_upgrade(state: SchemaState, target: DatabaseTarget, first_use: bool) -> None:
    if state.status is Schema.NEWER:
        raise _too_new(state, target)  # before any script runs: there is no way down
    if first_use and state.status is not Schema.EMPTY:
        _refuse(state, target)  # first use migrates an empty database only
