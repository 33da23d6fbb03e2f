"""The one executor: every plan, from `apply` or an imperative command, runs here.

Units of work: all source-level actions of one source commit together (so discovery commits with
the source it discovers, and a failed discovery leaves no source behind); each collection ingest
commits alone, with its ``ingest_runs`` row.  A failed collection rolls back alone; Ctrl-C (or
SIGTERM) rolls back only the unit in progress and stops.

A signal (Ctrl-C, SIGTERM) that lands while a unit commits waits until the unit's outcome is
recorded, then stops the run there: the report never calls a committed unit rolled back.

Under the apply lock, ``guard`` checks that the lock is still ours before each unit and again just
before each unit commits: a lost lock (its session died, someone released it by force) rolls the
unit in progress back and stops the run with ``LockLostError``, so nothing commits without it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Protocol

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from retrovue.database.failures import database_error, is_database_failure
from retrovue.database.tables import (
    Collection,
    IngestRun,
    PathMapping,
    utcnow,
)
from retrovue.enrichers.registry import EnricherRegistry
from retrovue.errors import (
    InterruptedByOperator,
    LockLostError,
    NotIngestibleError,
    PlanError,
    RetrovueError,
)
from retrovue.execute.deferred_signals import DeferredSignals
from retrovue.execute.enrich import CollectionEnricher
from retrovue.execute.ingest import ingest_collection
from retrovue.execute.lookups import (
    collection_id_of,
    collection_locations,
    source_name_of,
    source_row,
    usable_mappings,
)
from retrovue.execute.source_changes import apply_source_action
from retrovue.importers import pathmap
from retrovue.importers.factory import ImporterFactory
from retrovue.importers.folder_scope import scope_problem
from retrovue.importers.observation import Observations
from retrovue.importers.own_files import local_roots, own_files_within
from retrovue.importers.registry import Registry
from retrovue.logs import get_logger
from retrovue.model.actions import (
    Action,
    CollectionAddress,
    IngestCollection,
    Plan,
    is_change,
    unit_of,
)
from retrovue.model.enums import RunStatus, Scope, Trigger, Unit
from retrovue.model.results import (
    EnrichmentOutcome,
    ExecutionResult,
    IngestOutcome,
    SourceOutcome,
)
from retrovue.model.upstream import PathMappingSpec, UpstreamCollection
from retrovue.observe.enrichment import collection_enrichers

log = get_logger("retrovue.execute")


class Progress(Protocol):
    """Ticks once per upstream item of a collection; ``done`` when the collection ends.  A display
    may also offer ``start_phase(name, total)``: the ingest then announces scanning (with the
    stored count as an estimate) and writing (with the rows to write)."""

    def __call__(self) -> None: ...

    def done(self) -> None: ...


ProgressFactory = Callable[[str], Progress | None]
#: raises ``LockLostError`` unless the apply lock is still held; given the connection of a unit
#: about to commit, or None between units
LockGuard = Callable[[Connection | None], None]


def unguarded(_conn: Connection | None = None) -> None:
    return None


@dataclass
class Executor:
    engine: Engine
    registry: Registry
    trigger: Trigger = Trigger.APPLY
    scrub: Callable[[str], str] = str
    progress: ProgressFactory = lambda _label: None
    clock: Callable[[], datetime] = utcnow
    guard: LockGuard = unguarded
    #: the enricher registry; loaded on first use when None
    enrichers: EnricherRegistry | None = None
    #: the upstream listings of a plan made in this process (`apply -c`), reused while the
    #: importer proves them current (retrovue.importers.observation); None: list each again
    observations: Observations | None = None
    #: held from just before a unit commits until its outcome is recorded
    signals: DeferredSignals = field(default_factory=DeferredSignals)
    #: the real paths of the database's own files (SQLite), never ingested from a collection
    database_files: frozenset[str] = frozenset()
    #: makes the importer of each collection it ingests; default: one over ``registry`` that
    #: reads the process's environment and tells no redactor
    importers: ImporterFactory | None = None

    def __post_init__(self) -> None:
        if self.importers is None:
            self.importers = ImporterFactory(self.registry)

    def execute(self, plan: Plan) -> ExecutionResult:
        try:
            return self._execute(plan)
        finally:
            self.signals.release()  # never leave the process's handlers replaced

    def _execute(self, plan: Plan) -> ExecutionResult:
        """Run every unit of the plan.  An interruption or a lost lock in a source-level unit
        propagates (nothing was ingested yet); in a collection ingest it ends the run, recorded
        in the result (``interrupted``, ``lock_lost``) beside what committed before it."""
        result = ExecutionResult()
        # notes that change nothing (a collection gone upstream, a PruneSource that deletes
        # nothing) are shown in the plan only: a unit of them would report "changes committed"
        source_actions = [a for a in plan.actions if unit_of(a) == Unit.SOURCE and is_change(a)]
        failed_sources: set[str] = set()
        for source_name, group in groupby(source_actions, key=source_name_of):
            self.guard(None)
            outcome = self._apply_source(source_name, list(group))
            result.sources.append(outcome)
            if not outcome.ok:
                failed_sources.add(source_name)
            if self._stopped_after_unit(result):
                return result
        ingested_ok: set[CollectionAddress] = set()
        collection_units = {Unit.INGEST: self._run_ingest, Unit.ENRICH: self._run_enrichment}
        for action in plan.actions:
            run = collection_units.get(unit_of(action))
            if run is not None and not run(action, plan, failed_sources, result, ingested_ok):
                break
        return result

    def _run_ingest(self, action, plan, failed_sources, result, ingested_ok) -> bool:
        """One collection's ingest; False when the run must stop (interrupted, lock lost)."""
        if action.collection.source.name in failed_sources:
            result.ingests.append(
                IngestOutcome(
                    action.collection,
                    RunStatus.SKIPPED,
                    action.counts,
                    error=RetrovueError("its source's changes failed"),
                )
            )
            return True
        if not action.counts.has_changes and not plan.ingest_unchanged:
            ingested_ok.add(action.collection)  # nothing planned here: left as it is
            return True
        try:
            self.guard(None)
            outcome = self._ingest(action, plan.allow_mass_missing)
        except LockLostError as lost:  # found before the unit began: it never ran
            outcome = IngestOutcome(
                action.collection, RunStatus.FAILED, action.counts, error=self._typed(lost)
            )
        except KeyboardInterrupt as stop:
            result.ingests.append(
                IngestOutcome(
                    action.collection,
                    RunStatus.INTERRUPTED,
                    action.counts,
                    error=InterruptedByOperator(_stop_reason(stop)),
                )
            )
            result.interrupted = True
            return False
        result.ingests.append(outcome)
        if outcome.status == RunStatus.OK:
            ingested_ok.add(action.collection)
        stopped = self._stopped_after_unit(result)
        if isinstance(outcome.error, LockLostError):
            result.lock_lost = outcome.error
            return False
        return not stopped

    def _stopped_after_unit(self, result: ExecutionResult) -> bool:
        """Deliver a signal that came while the unit committed: the run stops after that unit,
        which stands as committed (nothing was in progress, nothing rolled back)."""
        try:
            self.signals.release()
        except KeyboardInterrupt:
            result.interrupted = True
            return True
        return False

    def _run_enrichment(self, action, plan, failed_sources, result, ingested_ok) -> bool:
        """One collection's enrichment, after its ingest (when the plan has one); False when the
        run must stop."""
        address = action.collection
        ingest_planned = any(
            unit_of(a) == Unit.INGEST and a.collection == address for a in plan.actions
        )
        if address.source.name in failed_sources or (ingest_planned and address not in ingested_ok):
            result.enrichments.append(
                EnrichmentOutcome(address, error=RetrovueError("its collection's ingest failed"))
            )
            return True
        if action.by_workers:  # --enrich=workers: they enrich it; this run only says how much
            result.enrichments.append(self._left_to_workers(address))
            return True
        # nothing planned to enrich: its stuck assets are settled, if it has any, and that is all
        # (unless its ingest just wrote assets, which are to enrich whatever the plan counted: an
        # imperative ingest plans its enrichment before it has listed anything)
        settle_only = (
            action.total == 0
            and not action.force
            and not action.unavailable
            and not _ingest_wrote(result, address)
        )
        if settle_only and not action.stuck:
            return True
        enricher: CollectionEnricher | None = None
        progress = self.progress(str(address))
        try:
            self.guard(None)
            enricher = self._collection_enricher(action, progress)
            run = enricher.settle_stuck() if settle_only else enricher.enrich()
        except KeyboardInterrupt as stop:
            _finish(progress)
            result.enrichments.append(
                self._enrichment_outcome(
                    address, enricher, InterruptedByOperator(_stop_reason(stop)), True
                )
            )
            result.interrupted = True
            return False
        except Exception as exc:  # noqa: BLE001 - committed batches stay; the rest is reported
            _finish(progress)
            if (stop := interrupt_behind(exc)) is not None:
                result.enrichments.append(
                    self._enrichment_outcome(
                        address, enricher, InterruptedByOperator(_stop_reason(stop)), True
                    )
                )
                result.interrupted = True
                return False
            error = self._typed(exc)
            # at info: the result line reports it (a warning would print it twice)
            log.info("collection enrichment stopped", collection=str(address), error=error.message)
            result.enrichments.append(self._enrichment_outcome(address, enricher, error))
            if isinstance(error, LockLostError):
                result.lock_lost = error
                return False
            return True
        _finish(progress)
        error = run.errors[0] if run.errors else None
        outcome = self._enrichment_outcome(address, enricher, self._typed(error) if error else None)
        log.info(
            "collection enrichment committed",
            collection=str(address),
            enriched=outcome.enriched,
            failed=outcome.failed,
            reset=outcome.reset,
        )
        result.enrichments.append(outcome)
        return True

    def _left_to_workers(self, address) -> EnrichmentOutcome:
        from retrovue.observe.enrichment import count_pending_any

        with self.engine.connect() as conn:
            source = source_row(conn, address)
            collection_id = collection_id_of(conn, source.id, address)
            types = [s.type for s in collection_enrichers(conn, source.id, collection_id)]
            left = count_pending_any(conn, collection_id, types)
        return EnrichmentOutcome(address, left_to_workers=left)

    def _collection_enricher(self, action, progress) -> CollectionEnricher:
        """The enricher of an EnrichCollection's collection, with its enrichers attached now."""
        address = action.collection
        with self.engine.connect() as conn:
            source = source_row(conn, address)
            collection_id = collection_id_of(conn, source.id, address)
            specs = collection_enrichers(conn, source.id, collection_id)
        return CollectionEnricher(
            self.engine,
            self.enricher_registry(),
            collection_id,
            specs,
            self.clock,
            self.guard,
            force=action.force,
            retry_failed=action.retry_failed,
            on_result=progress,
        )

    def _enrichment_outcome(self, address, enricher, error, interrupted=False):
        run = enricher.run if enricher is not None else None
        return EnrichmentOutcome(
            address,
            counts=tuple(run.counts.values()) if run else (),
            failures=tuple(run.failures) if run else (),
            error=error,
            interrupted=interrupted,
            reset=run.reset if run else 0,
            assets_enriched=run.assets_enriched if run else 0,
            assets_failed=run.assets_failed if run else 0,
        )

    def enricher_registry(self) -> EnricherRegistry:
        """Loaded on first use: a plan with nothing to enrich never imports the enrichers."""
        if self.enrichers is None:
            from retrovue.enrichers.registry import load_registry

            self.enrichers = load_registry()
        return self.enrichers

    # -- source-level unit -------------------------------------------------------------------

    def _apply_source(self, source_name: str, actions: list[Action]) -> SourceOutcome:
        try:
            with self.engine.begin() as conn:
                source_id: uuid.UUID | None = None
                for action in actions:
                    source_id = apply_source_action(conn, action, source_id, self.clock())
                self.guard(conn)
                self.signals.hold()
        except LockLostError:
            raise
        except (SQLAlchemyError, RetrovueError) as exc:
            if (stop := interrupt_behind(exc)) is not None:
                raise stop from None
            error = self._typed(exc)
            log.error("source changes rolled back", source=source_name, error=error.message)
            return SourceOutcome(source_name, error)
        log.info("source changes committed", source=source_name, actions=len(actions))
        return SourceOutcome(source_name)

    # -- collection ingest unit ---------------------------------------------------------------

    def _ingest(self, action: IngestCollection, allow_mass_missing: bool) -> IngestOutcome:
        started = self.clock()
        address = action.collection
        run = {
            "trigger": self.trigger,
            "scope": action.scope,
            "scope_title": action.title,
            "scope_season": action.season,
            "scope_episode": action.episode,
            "started_at": started,
        }
        collection_id: uuid.UUID | None = None
        progress = self.progress(str(address))
        try:
            with self.engine.begin() as conn:
                source = source_row(conn, address)
                collection_id = collection_id_of(conn, source.id, address)
                importer = self.importers.create(source.type, source.config, address.source.name)
                # re-checked inside the unit: the mappings may have changed since the plan
                _recheck_ingestible(conn, importer, collection_id)
                mappings = usable_mappings(conn, collection_id)
                folders = _checked_scope(conn, action, importer, collection_id, mappings)
                to_canonical = pathmap.canonical_mapper(importer.uses_path_mappings, mappings)
                diff = ingest_collection(
                    conn,
                    importer,
                    collection_id,
                    address.external_id,
                    to_canonical=to_canonical,
                    now=started,
                    missing_threshold=action.missing_threshold,
                    allow_mass_missing=allow_mass_missing,
                    title=action.title,
                    season=action.season,
                    episode=action.episode,
                    items=action.items,
                    folders=folders,
                    on_item=progress,
                    own_files=self._own_files(conn, importer, collection_id, mappings),
                    observed=(
                        self.observations.take(address, importer)
                        if self.observations is not None
                        else None
                    ),
                )
                counts = diff.counts()
                run_id = self._record_run(conn, collection_id, run, RunStatus.OK, counts, None)
                self.guard(conn)
                self.signals.hold()
        except KeyboardInterrupt as stop:
            _finish(progress)
            self._record_interruption(address, collection_id, run, _stop_reason(stop))
            raise
        except Exception as exc:  # noqa: BLE001 - any failure rolls back this collection only
            _finish(progress)
            if (stop := interrupt_behind(exc)) is not None:
                self._record_interruption(address, collection_id, run, _stop_reason(stop))
                raise stop from None
            error = self._typed(exc)
            log.error("collection ingest rolled back", collection=str(address), error=error.message)
            run_id = (
                self._record_failure(collection_id, run, RunStatus.FAILED, error.message)
                if collection_id
                else None
            )
            return IngestOutcome(
                address,
                RunStatus.FAILED,
                action.counts,
                error=error,
                run_id=run_id,
                started_at=started,
            )
        _finish(progress)
        log.info("collection ingest committed", collection=str(address), **counts.__dict__)
        return IngestOutcome(
            address,
            RunStatus.OK,
            action.counts,
            counts=counts,
            run_id=run_id,
            degraded=diff.degraded,
            degraded_reason=diff.degraded_reason,
            skipped=diff.skip_reasons(),
            started_at=started,
        )

    def _own_files(self, conn, importer, collection_id, mappings) -> frozenset[str]:
        """The database's own files in this collection (read only when there are any: SQLite)."""
        if not self.database_files:
            return frozenset()
        roots = local_roots(
            importer.uses_path_mappings, collection_locations(conn, collection_id), mappings
        )
        return own_files_within(self.database_files, roots)

    def _typed(self, exc: BaseException) -> RetrovueError:
        """The error as a typed, scrubbed ``RetrovueError``: outcomes carry it, not a string."""
        if isinstance(exc, RetrovueError):
            exc.message = self.scrub(exc.message)
            exc.hint = self.scrub(exc.hint) if exc.hint else None
            return exc
        if is_database_failure(exc):
            error = database_error(exc, self.engine.url, during="the write")
            error.message = self.scrub(error.message)
            return error
        return RetrovueError(self.scrub(f"{type(exc).__name__}: {exc}"))

    def _record_run(self, conn, collection_id, run: dict, status: str, counts, error) -> uuid.UUID:
        run_id = uuid.uuid4()
        conn.execute(
            insert(IngestRun).values(
                id=run_id,
                collection_id=collection_id,
                status=status,
                counts=dict(counts.__dict__) if counts else None,
                error=error,
                finished_at=self.clock(),
                **run,
            )
        )
        return run_id

    def _record_failure(
        self, collection_id, run: dict, status: str, error: str
    ) -> uuid.UUID | None:
        """A failed run's row is written after the rollback, in its own unit, so the failure is
        recorded even though the ingest left nothing behind."""
        try:
            with self.engine.begin() as conn:
                return self._record_run(conn, collection_id, run, status, None, error)
        except SQLAlchemyError:
            log.error("could not record the failed ingest run", collection_id=str(collection_id))
            return None

    def _record_interruption(
        self, address, collection_id: uuid.UUID | None, run: dict, reason: str
    ) -> None:
        """The interrupted run's row, after the rollback.  The interruption may have come before
        the unit knew its collection's id: it is looked up again then."""
        if collection_id is None:
            try:
                with self.engine.connect() as conn:
                    collection_id = collection_id_of(conn, source_row(conn, address).id, address)
            except (SQLAlchemyError, RetrovueError):
                log.error("could not record the interrupted ingest run", collection=str(address))
                return
        self._record_failure(collection_id, run, RunStatus.INTERRUPTED, reason)


def _recheck_ingestible(conn: Connection, importer, collection_id: uuid.UUID) -> None:
    """check_ingestible() again inside the unit, whatever the trigger: mappings or folders may have
    changed since the plan.  A failure fails this collection only."""
    row = conn.execute(
        select(Collection.c.external_id, Collection.c.name, Collection.c.locations).where(
            Collection.c.id == collection_id
        )
    ).one()
    mappings = [
        PathMappingSpec(r.upstream_path, r.local_path)
        for r in conn.execute(
            select(PathMapping.c.upstream_path, PathMapping.c.local_path).where(
                PathMapping.c.collection_id == collection_id
            )
        )
    ]
    upstream = UpstreamCollection(row.external_id, row.name, tuple(row.locations or ()))
    ok, reason = importer.check_ingestible(upstream, mappings)
    if not ok:
        raise NotIngestibleError(f"Collection '{row.name}' is not ingestible", hint=reason)


def _checked_scope(
    conn: Connection, action: IngestCollection, importer, collection_id: uuid.UUID, mappings
) -> tuple[str, ...]:
    """The folders a folder-scoped ingest lists, checked against the collection as stored now:
    a saved plan crosses a trust boundary, and a scope naming a path outside the collection
    (or none at all) could otherwise mark assets missing that nothing listed.  Raises
    ``PlanError`` (this collection fails, nothing written)."""
    address = action.collection
    if action.scope != Scope.FOLDERS:
        if action.folders:
            raise PlanError(
                f"{address}: the ingest names folders but its scope is {action.scope}",
                hint=_EDITED_PLAN_HINT,
            )
        return ()
    if action.items:  # two narrowings at once: which stored assets to compare is unclear
        raise PlanError(
            f"{address}: the ingest names both items and folders", hint=_EDITED_PLAN_HINT
        )
    if not importer.scoped_listing:
        raise PlanError(
            f"{address}: the ingest is scoped to folders, which its source's importer cannot "
            "list alone",
            hint=_EDITED_PLAN_HINT,
        )
    roots = local_roots(
        importer.uses_path_mappings, collection_locations(conn, collection_id), mappings
    )
    problem = scope_problem(action.folders, roots)
    if problem is not None:
        raise PlanError(f"{address}: {problem}", hint=_EDITED_PLAN_HINT)
    return action.folders


_EDITED_PLAN_HINT = "a plan is made by `retrovue plan`, never edited: plan again"


def _ingest_wrote(result: ExecutionResult, address: CollectionAddress) -> bool:
    """Whether this run's ingest of ``address`` created or changed assets."""
    return any(
        i.collection == address
        and i.status == RunStatus.OK
        and i.counts is not None
        and bool(i.counts.new or i.counts.changed)
        for i in result.ingests
    )


def interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The interrupt (SIGTERM, Ctrl-C) an error was raised while handling, if any.  A signal
    raised inside the driver between sending a command and reading its answer leaves the
    connection busy; the rollback on the way out then fails ("another command is already in
    progress") and that error replaces the interrupt.  The run was stopped, not failed: it is
    reported and recorded as interrupted."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return cause
        seen.add(id(cause))
        cause = cause.__context__
    return None


def _stop_reason(stop: KeyboardInterrupt) -> str:
    """Why the run stopped, as its ``ingest_runs`` row and summary say it."""
    return getattr(stop, "reason", "interrupted by the operator")


def _finish(progress) -> None:
    if progress is not None:
        progress.done()
