"""One `retrovue worker`'s loop: claim a batch, enrich it, store the results, let go; again.

Many workers, on any machines that see the media, share one PostgreSQL database and nothing
else.  A batch is claimed (``execute.claims``), each runnable enricher is run over the batch's
assets it has not tried yet in the same crash-proof pool ``collection enrich`` uses, and results
are stored as they come (every ``flush`` results or ``flush_s`` seconds), each store checking the
claim is still this worker's; the lease is renewed at a third of its length while the pool works.

How it ends or carries on:
- a worker that dies, or whose connection is cut, stops renewing: its lease runs out and the
  assets go back to the pool, where any worker claims them again; what it had stored stays;
- a lost connection: the batch in hand is given up (its claims are released if the database
  answers again, else left to expire), and the loop reconnects and goes on;
- SIGTERM or Ctrl-C: the transaction in progress rolls back, the pool stops, the claims are
  released, and the interruption propagates;
- ``once``: when nothing is left to enrich by the enrichers this machine can run (work another
  live worker holds is waited for: it may still come back), the loop returns.

An asset stays ``new`` while a worker holds it (``enriching`` is the mark of a run under the
apply lock, which settles any it finds); the claim is what shows it in progress.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, select

from retrovue.database.failures import describe, lost_connection
from retrovue.database.tables import Asset
from retrovue.enrichers.base import BaseEnricher, resolve_params
from retrovue.enrichers.pool import EnrichOutcome, run_enrichment_rounds
from retrovue.enrichers.registry import EnricherRegistry
from retrovue.errors import DatabaseError, RetrovueError
from retrovue.execute import claims
from retrovue.execute.enrich import chain_rounds, record_of, split_known, write_assets
from retrovue.logs import get_logger
from retrovue.model.enrichment import EnricherSpec, EnrichFailure
from retrovue.model.results import MAX_LISTED_FAILURES
from retrovue.model.worker import WorkCollection, WorkerReport, WorkerSettings
from retrovue.observe.enrichment import pending

log = get_logger("retrovue.worker")

#: results per stored transaction, and the longest a finished result waits to be stored
FLUSH = 64
FLUSH_S = 2.0
#: consecutive failed attempts to reach the database before the worker gives up
MAX_RECONNECTS = 20


@dataclass
class EnrichmentWorker:
    engine: Engine
    registry: EnricherRegistry
    settings: WorkerSettings
    #: the collections with enrichers attached, read again whenever the worker runs out of work
    collections: Callable[[], Sequence[WorkCollection]]
    clock: Callable[[], datetime]
    sleep: Callable[[float], None] = time.sleep
    flush: int = FLUSH
    flush_s: float = FLUSH_S
    #: called once per stored result (a progress line)
    on_result: Callable[[], None] | None = None
    report: WorkerReport = field(init=False)
    #: the assets whose claim this worker holds now
    _held: set[uuid.UUID] = field(default_factory=set, init=False)
    _renewed_at: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.report = WorkerReport(self.settings.worker_id)

    @property
    def _me(self) -> str:
        return self.settings.worker_id

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> WorkerReport:
        """Work until interrupted (or, with ``once``, until nothing is left); the claims held
        are released on every way out."""
        misses = 0
        try:
            while True:
                try:
                    known = self.collections()
                    worked = self._one_batch(known)
                    if not worked and self.settings.once and not self._anything_left(known):
                        return self.report
                    misses = 0
                except RetrovueError:
                    raise
                except Exception as exc:
                    if not lost_connection(exc):
                        raise
                    misses += 1
                    self._connection_lost(exc, misses)
                    continue
                if not worked:
                    self.sleep(self.settings.poll_s)
        except KeyboardInterrupt:
            self.report.interrupted = True
            raise
        finally:
            self._let_go()

    def _connection_lost(self, exc: BaseException, misses: int) -> None:
        self.report.reconnects += 1
        if misses > MAX_RECONNECTS:
            raise DatabaseError(
                f"the database did not answer {MAX_RECONNECTS} times in a row: {describe(exc)}",
                hint="the claims this worker held return to the pool when their lease runs out",
            ) from exc
        log.warning("database connection lost; the batch in hand is given up", error=describe(exc))
        self._let_go()
        self.sleep(min(5.0, 0.25 * misses))

    def _let_go(self) -> None:
        """Release this worker's claims; if the database does not answer, they expire."""
        try:
            with self.engine.begin() as conn:
                claims.release(conn, self._me)
        except Exception as exc:  # noqa: BLE001 - on the way out: the lease covers it
            log.info("claims left to expire", error=describe(exc))
        self._held = set()

    def _anything_left(self, known: Sequence[WorkCollection]) -> bool:
        """Whether any asset is still to enrich by what this worker can run, held or not."""
        with self.engine.connect() as conn:
            return any(
                claims.has_pending(conn, col.id, col.runnable_types)
                for col in known
                if col.runnable
            )

    def _one_batch(self, known: Sequence[WorkCollection]) -> bool:
        """Claim a batch in the first collection that has unclaimed work and enrich it; False
        when there was none anywhere."""
        for col in known:
            if not col.runnable:
                continue
            with self.engine.begin() as conn:
                claims.drop_expired(conn, col.id)
                batch = claims.claim(
                    conn,
                    self._me,
                    col.id,
                    col.runnable_types,
                    self.settings.batch,
                    self.settings.lease_s,
                )
            if batch:
                self._held = {asset.id for asset in batch}
                self._renewed_at = time.monotonic()
                self.report.batches += 1
                self.report.claimed += len(batch)
                log.info("claimed", collection=col.label, assets=len(batch))
                self._enrich_batch(col, batch)
                return True
        return False

    # -- one batch --------------------------------------------------------------------------

    def _enrich_batch(self, col: WorkCollection, batch: list[claims.ClaimedAsset]) -> None:
        by_id = {asset.id: asset for asset in batch}
        for spec in col.runnable:
            if not self._held:
                break  # every claim lost: nothing of this batch could be stored any more
            self._run_enricher(col, spec, by_id)
        with self.engine.begin() as conn:
            self.report.ready += claims.promote(conn, list(self._held), col.types)
            claims.release(conn, self._me, self._held)
        self._held = set()

    def _run_enricher(
        self, col: WorkCollection, spec: EnricherSpec, by_id: dict[uuid.UUID, claims.ClaimedAsset]
    ) -> None:
        cls = self.registry.require_available(spec.type)
        try:
            params = resolve_params(cls.param_spec(), spec.params)
        except RetrovueError as exc:
            log.warning("enricher not run", enricher=spec.type, error=exc.message)
            return
        with self.engine.connect() as conn:
            todo = set(
                conn.execute(
                    select(Asset.c.id).where(Asset.c.id.in_(list(self._held)), pending(spec.type))
                ).scalars()
            )
        rows = [
            _Row(a.id, col.to_local(a.canonical_uri), a.change_token, a.metadata)
            for a in by_id.values()
            if a.id in todo
        ]
        if not rows:
            return
        known, to_probe = split_known(cls, rows)
        outcomes = [
            EnrichOutcome(i.asset_id, i.change_token, cls.type_id, cls.version, d, None, None, 0.0)
            for i, d in known
        ]
        rounds = chain_rounds(
            [outcomes],
            run_enrichment_rounds(
                spec.type,
                params,
                to_probe,
                workers=self.settings.concurrency,
                registry=self.registry,
            )
            if to_probe
            else (),
        )
        paths = {str(row.id): row.canonical_uri for row in rows}
        try:
            self._store_as_they_come(col, cls, rounds, paths)
        finally:
            rounds.close()  # stops the pool at once when the loop ended early

    def _store_as_they_come(self, col, cls, rounds, paths: dict[str, str]) -> None:
        buffer: list[EnrichOutcome] = []
        stored_at = time.monotonic()
        for done in rounds:
            buffer.extend(done)
            now = time.monotonic()
            if len(buffer) >= self.flush or (buffer and now - stored_at >= self.flush_s):
                self._store(col, cls, buffer, paths)
                buffer, stored_at = [], now
            if now - self._renewed_at >= self.settings.lease_s / 3:
                self._renew()
                if not self._held:
                    log.warning("every claim of the batch was lost; it is given up")
                    return
        if buffer:
            self._store(col, cls, buffer, paths)

    def _renew(self) -> None:
        with self.engine.begin() as conn:
            still = claims.renew(conn, self._me, self._held, self.settings.lease_s)
        lost = self._held - still
        if lost:
            log.warning("claims lost to an expired lease", assets=len(lost))
        self._held = still
        self._renewed_at = time.monotonic()

    def _store(
        self,
        col: WorkCollection,
        cls: type[BaseEnricher],
        outcomes: list[EnrichOutcome],
        paths: dict[str, str],
    ) -> None:
        version = claims.enricher_version(cls)
        ids = [uuid.UUID(o.asset_id) for o in outcomes]
        with self.engine.begin() as conn:
            mine = claims.held(conn, self._me, ids)
            tokens = claims.current_tokens(conn, ids)
            kept, dropped = claims.keep_current(outcomes, mine, tokens)
            now = self.clock()
            records = {o.asset_id: record_of(cls, o, version, now, col.id) for o in kept}
            stored = claims.store_once(conn, [r.ledger for r in records.values()])
            updates = []
            for asset_id in stored:
                record = records[str(asset_id)]
                metadata = dict(tokens[asset_id].metadata or {})
                results = dict(metadata.get("enrichers") or {})
                results[cls.type_id] = record.stored
                metadata["enrichers"] = results
                updates.append({"b_id": asset_id, "b_metadata": metadata, **record.columns})
            write_assets(conn, updates)
            ready = claims.promote(conn, list(stored), col.types)
        self.report.ready += ready
        self.report.stored += len(stored)
        self.report.dropped += dropped + len(kept) - len(stored)
        for asset_id in stored:
            record = records[str(asset_id)]
            code = record.ledger["error_code"]
            if code is not None:
                self._failed(cls.type_id, str(asset_id), record, paths.get(str(asset_id), ""))
            if self.on_result is not None:
                self.on_result()

    def _failed(self, type_id: str, asset_id: str, record, path: str) -> None:
        self.report.failed += 1
        code, message = record.ledger["error_code"], record.ledger["error_message"]
        log.info("asset not enriched", enricher=type_id, path=path, code=code, error=message)
        if len(self.report.failures) < MAX_LISTED_FAILURES:
            self.report.failures.append(EnrichFailure(asset_id, path, type_id, code, message))


@dataclass(frozen=True)
class _Row:
    """What ``split_known`` reads of a claimed asset (its path already local to this machine)."""

    id: uuid.UUID
    canonical_uri: str
    change_token: str
    metadata: dict | None
