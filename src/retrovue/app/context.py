"""What every use case needs, wired once: database, registry, redaction and progress.

A thin front door: it holds and connects things and compares nothing.  It knows nothing of click;
the CLI builds one per command from its options.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from retrovue.errors import RetrovueError, rolled_back
from retrovue.logs import LogSettings
from retrovue.model.enums import Trigger
from retrovue.redact import Redactor

if TYPE_CHECKING:  # the ORM and the engine load only when a command touches the database
    from sqlalchemy import Connection, Engine

    from retrovue.database.engine import DatabaseTarget, NoDatabase
    from retrovue.execute.executor import Executor, ProgressFactory
    from retrovue.execute.lock import HeldLock
    from retrovue.importers.base import BaseImporter
    from retrovue.importers.factory import ImporterFactory
    from retrovue.importers.observation import Observations
    from retrovue.importers.registry import Registry
    from retrovue.model.actions import Plan
    from retrovue.model.locks import LockScope
    from retrovue.model.results import ExecutionResult
    from retrovue.model.snapshots import DbSnapshot, DbSource
    from retrovue.observe.empty import EmptyReader
    from retrovue.observe.reader import DbReader


def _no_progress(_label: str) -> None:
    return None


@dataclass
class Context:
    """Everything here is this context's own: two contexts in one process (two requests of a
    server) share no settings, secrets, schema check or lock."""

    test_db: bool = False
    db_url: str | None = None
    redactor: Redactor = field(default_factory=Redactor)
    progress: ProgressFactory = _no_progress
    #: how this context logs (active while its caller runs it: ``with ctx.logging.active()``);
    #: default: warnings, scrubbed with this context's redactor
    logging: LogSettings | None = None
    #: an engine its owner shares between contexts (a server's requests, each one context):
    #: used instead of opening one, and left open by ``close``
    shared_engine: Engine | None = None
    #: an importer registry its owner loaded once for many contexts (a server's requests): the
    #: entry-point scan of plugins costs ~5 ms, more than a whole API request otherwise
    shared_registry: Registry | None = None
    #: connections the engine this context opens keeps for concurrent units of work (a server's
    #: threads); None: SQLAlchemy's default, ample for a command
    pool_size: int | None = None
    _schema_checked: bool = field(default=False, init=False, repr=False)
    _held_lock: HeldLock | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.logging is None:
            self.logging = LogSettings(scrub=self.redactor.scrub)

    def scrub(self, text: str) -> str:
        return self.redactor.scrub(text)

    @cached_property
    def registry(self) -> Registry:
        if self.shared_registry is not None:
            return self.shared_registry
        from retrovue.importers.registry import load_registry

        return load_registry()

    @cached_property
    def importers(self) -> ImporterFactory:
        """Makes every importer of a stored source this context uses; their secrets, read from
        the environment, are learnt by this context's redactor."""
        import os

        from retrovue.importers.factory import ImporterFactory

        return ImporterFactory(self.registry, os.environ, self.redactor.add)

    @cached_property
    def target(self) -> DatabaseTarget:
        from retrovue.database.engine import resolve_target

        return resolve_target(self.db_url, self.test_db)

    @cached_property
    def database_files(self) -> frozenset[str]:
        """The database's own files (SQLite's file and journals), which no collection ingests."""
        from retrovue.database.engine import database_files

        return database_files(self.target.url)

    @cached_property
    def engine(self) -> Engine:
        if self.shared_engine is not None:
            return self.shared_engine
        from retrovue.database.engine import open_database

        return open_database(self.target, pool_size=self.pool_size)

    @cached_property
    def reading_engine(self) -> Engine | NoDatabase:
        """The database for reads that must create nothing (a plan): the command's engine when
        it has opened one, else the existing database, else a ``NoDatabase`` saying why not."""
        if "engine" in self.__dict__:
            return self.engine
        from retrovue.database.engine import open_existing

        return open_existing(self.target)

    def close(self) -> None:
        if self.shared_engine is not None:
            return  # its owner disposes of it
        if "engine" in self.__dict__:
            self.engine.dispose()
        if "reading_engine" in self.__dict__:
            from retrovue.database.engine import NoDatabase

            if not isinstance(self.reading_engine, NoDatabase):
                self.reading_engine.dispose()

    def typed_error(self, exc: BaseException) -> RetrovueError | None:
        """A database failure that escaped a use case, as one scrubbed line naming the database
        (the statement and its parameters stay in the --debug traceback).  None: not one."""
        from retrovue.database.failures import database_error, is_database_failure

        if not is_database_failure(exc):
            return None
        error = database_error(exc, self.target.url)
        error.message = self.scrub(error.message)
        return error

    # -- secrets -----------------------------------------------------------------------------

    def register_secrets(self, config: dict, sensitive: set[str] | frozenset[str]) -> None:
        from retrovue.config.references import secret_values

        for value in secret_values(config, sensitive):
            self.redactor.add(value)

    def sensitive_keys(self, type_id: str) -> set[str]:
        entry = self.registry.importers.get(type_id)
        if entry is None:
            return set()
        try:
            return entry.cls.sensitive_params()
        except Exception:  # noqa: BLE001 - a broken plugin must not break listing
            return set()

    # -- reading -----------------------------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """One consistent read transaction over the database."""
        from retrovue.observe.db import read_transaction

        with read_transaction(self.engine) as conn:
            yield conn

    def snapshot(self) -> DbSnapshot:
        """The stored sources and collections; every stored secret is learnt so no output leaks it."""
        from retrovue.observe.db import load_snapshot

        with self.reading() as conn:
            snapshot = load_snapshot(conn)
        self.learn_secrets(snapshot)
        return snapshot

    @contextmanager
    def plan_reader(self) -> Iterator[DbReader | EmptyReader]:
        """What a plan reads, read-only: planning never creates, migrates or writes a database,
        and one that does not exist yet reads as empty (see ``database_note``)."""
        from retrovue.database.engine import NoDatabase

        engine = self.reading_engine
        if isinstance(engine, NoDatabase):
            from retrovue.database.revision import HEAD_REVISION
            from retrovue.observe.empty import EmptyReader

            yield EmptyReader(HEAD_REVISION)
            return
        from retrovue.observe.reader import DbReader

        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(postgresql_readonly=True)
            yield DbReader(conn)

    @property
    def database_note(self) -> str | None:
        """Why a plan read an empty database (it does not exist yet); None when it exists."""
        from retrovue.database.engine import NoDatabase

        engine = self.reading_engine
        return engine.note if isinstance(engine, NoDatabase) else None

    def learn_secrets(self, snapshot: DbSnapshot) -> None:
        for source in snapshot.sources:
            self.register_secrets(source.config, self.sensitive_keys(source.type))

    def importer_for(self, source: DbSource) -> BaseImporter:
        """The importer of a stored source, its secrets read from the environment now."""
        return self.importers.create(source.type, source.config, source.name)

    # -- writing -----------------------------------------------------------------------------

    def executor(
        self, trigger: Trigger = Trigger.APPLY, *, observations: Observations | None = None
    ) -> Executor:
        """An executor for this context's database; under the apply lock, every unit it runs
        checks that the lock is still ours."""
        from retrovue.execute.executor import Executor, unguarded

        self.require_writable_schema()
        return Executor(
            self.engine,
            self.registry,
            trigger=trigger,
            scrub=self.scrub,
            progress=self.progress,
            guard=self._held_lock.verify if self._held_lock is not None else unguarded,
            observations=observations,
            database_files=self.database_files,
            importers=self.importers,
        )

    def require_writable_schema(self) -> None:
        """Before the first write: the live schema must be the one the models declare, so a
        column dropped by hand is refused up front instead of failing writes half-way.  Checked
        once per context, i.e. once per command: it costs 20–50 ms on SQLite, 45–150 ms on
        PostgreSQL, too much to repeat per unit of work."""
        if self._schema_checked:
            return
        from retrovue.database.check import require_matching_schema

        require_matching_schema(self.engine, self.target.display_url)
        self._schema_checked = True

    @contextmanager
    def locked(
        self,
        command: str,
        timeout: float | None = None,
        scope: LockScope | None = None,
        *,
        scopes: Iterable[LockScope] | None = None,
    ) -> Iterator[HeldLock]:
        """Hold the apply lock: one writer at a time per scope, whichever command writes.
        ``timeout``: how long to wait for it (None: the command offers no way to wait, and a
        refusal says what to do instead).  ``scope``/``scopes``: what it locks (neither: the
        whole database).  Executors made meanwhile check before each unit that it is held."""
        from retrovue.execute.lock import WHOLE_DATABASE, apply_locks

        wanted = tuple(scopes) if scopes is not None else (scope or WHOLE_DATABASE,)
        with apply_locks(
            self.engine,
            command,
            timeout=timeout or 0.0,
            can_wait=timeout is not None,
            scopes=wanted,
        ) as held:
            self._held_lock = held
            try:
                yield held
            finally:
                self._held_lock = None

    def run(
        self,
        plan: Plan,
        command: str,
        trigger: Trigger = Trigger.APPLY,
        *,
        precondition: Callable[[], None] | None = None,
    ) -> ExecutionResult:
        """Execute a plan under the lock of each source it writes (the whole database when it
        creates or prunes one) through the one executor.  ``precondition`` runs under the lock
        first, so what it checks still holds when the plan runs."""
        from retrovue.model.locks import scopes_of

        with self.locked(command, scopes=scopes_of(plan.actions)):
            if precondition is not None:
                precondition()
            return self.executor(trigger).execute(plan)

    def commit_source_changes(
        self, plan: Plan, command: str, *, precondition: Callable[[], None] | None = None
    ) -> ExecutionResult:
        """Run source-level actions as one unit; a unit that rolled back raises the typed error
        that rolled it back."""
        result = self.run(plan, command, precondition=precondition)
        failed = next((s for s in result.sources if not s.ok), None)
        if failed is not None:
            raise rolled_back(failed.error) from failed.error
        return result
