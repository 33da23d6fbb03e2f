"""What every use case needs, wired once: database, registry, redaction and progress.

A thin front door: it holds and connects things and compares nothing.  It knows nothing of click;
the CLI builds one per command from its options.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from retrovue.errors import DatabaseError, ImporterUnavailableError
from retrovue.importers.base import is_compliant
from retrovue.model.enums import Trigger
from retrovue.redact import Redactor

if TYPE_CHECKING:  # the ORM and the engine load only when a command touches the database
    from sqlalchemy import Connection, Engine

    from retrovue.database.engine import DatabaseTarget
    from retrovue.execute.executor import Executor, ProgressFactory
    from retrovue.importers.base import BaseImporter
    from retrovue.importers.registry import Registry
    from retrovue.model.actions import Plan
    from retrovue.model.results import ExecutionResult
    from retrovue.model.snapshots import DbSnapshot, DbSource


def _no_progress(_label: str) -> None:
    return None


@dataclass
class Context:
    test_db: bool = False
    db_url: str | None = None
    redactor: Redactor = field(default_factory=Redactor)
    progress: ProgressFactory = _no_progress

    def scrub(self, text: str) -> str:
        return self.redactor.scrub(text)

    @cached_property
    def registry(self) -> Registry:
        from retrovue.importers.registry import load_registry

        return load_registry()

    @cached_property
    def target(self) -> DatabaseTarget:
        from retrovue.database.engine import resolve_target

        return resolve_target(self.db_url, self.test_db)

    @cached_property
    def engine(self) -> Engine:
        from retrovue.database.engine import open_database

        return open_database(self.target)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    # -- secrets -----------------------------------------------------------------------------

    def register_secrets(self, config: dict, sensitive: set[str] | frozenset[str]) -> None:
        for key in sensitive:
            self.redactor.add(config.get(key))

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

    def learn_secrets(self, snapshot: DbSnapshot) -> None:
        for source in snapshot.sources:
            self.register_secrets(source.config, self.sensitive_keys(source.type))

    def importer_for(self, source: DbSource) -> BaseImporter:
        """The importer of a stored source, if its type is loaded and compliant."""
        entry = self.registry.importers.get(source.type)
        if entry is None or not is_compliant(entry.cls):
            raise ImporterUnavailableError(
                f"Source type '{source.type}' is not available",
                hint=f"source '{source.name}' has type '{source.type}', which no loaded importer provides",
            )
        return entry.cls(dict(source.config))

    # -- writing -----------------------------------------------------------------------------

    def executor(self, trigger: Trigger = Trigger.APPLY) -> Executor:
        from retrovue.execute.executor import Executor

        return Executor(
            self.engine, self.registry, trigger=trigger, scrub=self.scrub, progress=self.progress
        )

    @contextmanager
    def locked(self, command: str, timeout: float = 0.0) -> Iterator[None]:
        """Hold the apply lock: one writer at a time, whichever command writes."""
        from retrovue.execute.lock import apply_lock

        with apply_lock(self.engine, command, timeout=timeout):
            yield

    def run(
        self,
        plan: Plan,
        command: str,
        trigger: Trigger = Trigger.APPLY,
        *,
        precondition: Callable[[], None] | None = None,
    ) -> ExecutionResult:
        """Execute a plan under the apply lock through the one executor.  ``precondition`` runs
        under the lock first, so what it checks still holds when the plan runs."""
        with self.locked(command):
            if precondition is not None:
                precondition()
            return self.executor(trigger).execute(plan)

    def commit_source_changes(
        self, plan: Plan, command: str, *, precondition: Callable[[], None] | None = None
    ) -> ExecutionResult:
        """Run source-level actions as one unit; a unit that rolled back is an error."""
        result = self.run(plan, command, precondition=precondition)
        failed = next((s for s in result.sources if not s.ok), None)
        if failed is not None:
            raise DatabaseError(f"Transaction failed: {failed.message}")
        return result
