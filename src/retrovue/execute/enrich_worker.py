"""One `retrovue worker`'s loop: for each collection and enricher type, claim what is still to
enrich a batch at a time as the pool asks for more, store the results as they come, let go.

Many workers, on any machines that see the media, share one PostgreSQL database and nothing
else.  Claims are taken through ``execute.claims``; one pool (the crash-proof pool ``collection
enrich`` uses) runs an enricher type over a whole drain, its inputs claimed as it asks for them
(``_Feed``), sized to a couple of seconds of work so the last files of a drain are shared out.
Results are stored every ``flush`` results or ``flush_s`` seconds, each store checking the claims
are still this worker's and releasing them; the lease on what is held is renewed at a third of
its length while the pool works.  Types run in the collection's run order (a cheap probe first);
an asset is made ready by whichever store completes its last enricher.

How it ends or carries on:
- a worker that dies, or whose connection is cut, stops renewing: its lease runs out and the
  assets go back to the pool, where any worker claims them again; what it had stored stays;
- a lost connection: the work in hand is given up (its claims are released if the database
  answers again, else left to expire), and the loop reconnects and goes on;
- SIGTERM or Ctrl-C: the transaction in progress rolls back, the pool stops, the claims are
  released, and the interruption propagates;
- ``once``: when nothing is left to enrich by the enrichers this machine can run (work another
  live worker holds is waited for: it may still come back), the loop returns.

An asset stays ``new`` while a worker holds it (``enriching`` is the mark of a run under the
apply lock, which settles any it finds); the claim is what shows it in progress.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from retrovue.database.failures import describe, lost_connection
from retrovue.enrichers.base import BaseEnricher, EnrichInput, resolve_params
from retrovue.enrichers.pool import EnrichOutcome, run_enrichment_rounds
from retrovue.enrichers.registry import EnricherRegistry
from retrovue.errors import DatabaseError, RetrovueError
from retrovue.execute import claims
from retrovue.execute.enrich import record_of, split_known, write_assets
from retrovue.logs import get_logger
from retrovue.model.enrichment import EnricherSpec, EnrichFailure
from retrovue.model.results import MAX_LISTED_FAILURES
from retrovue.model.worker import WorkCollection, WorkerReport, WorkerSettings

log = get_logger("retrovue.worker")

#: results per stored transaction, and the longest a finished result waits to be stored
FLUSH = 64
FLUSH_S = 2.0
#: consecutive failed attempts to reach the database before the worker gives up
MAX_RECONNECTS = 20
#: the work, in seconds per pool process, one claim takes: short enough that the last files of
#: a drain are shared out between workers, long enough that claiming costs little
CLAIM_S = 1.0
#: how often a draining (``once``) worker looks again while others hold the last work
ONCE_POLL_S = 0.5


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
                    worked = self._one_pass(known)
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
                    # with once, what is left is in another worker's hands: it ends soon, or
                    # its lease runs out, so look again sooner
                    wait = self.settings.poll_s
                    self.sleep(min(wait, ONCE_POLL_S) if self.settings.once else wait)
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

    def _one_pass(self, known: Sequence[WorkCollection]) -> bool:
        """Drain every collection, one enricher type at a time in run order; False when there
        was nothing to claim anywhere."""
        worked = False
        for col in known:
            for spec in col.runnable:
                worked = self._drain(col, spec) or worked
        return worked

    # -- one enricher type over a collection ------------------------------------------------

    def _drain(self, col: WorkCollection, spec: EnricherSpec) -> bool:
        """Run ``spec`` over the collection's assets it has still to try, claiming them as its
        pool asks for more, in one pool for the whole drain (a pool per claim would cost its
        start, 0.2 s a process, every batch); True if anything was claimed."""
        cls = self.registry.require_available(spec.type)
        try:
            params = resolve_params(cls.param_spec(), spec.params)
        except RetrovueError as exc:
            log.warning("enricher not run", enricher=spec.type, error=exc.message)
            return False
        feed = _Feed(self, col, cls)
        rounds = run_enrichment_rounds(
            spec.type,
            params,
            feed.inputs(),
            workers=self.settings.concurrency,
            registry=self.registry,
        )
        try:
            self._store_as_they_come(col, cls, rounds, feed)
        finally:
            rounds.close()  # stops the pool at once when the loop ended early
            feed.close()
        return feed.claimed

    def _claim(
        self, col: WorkCollection, type_id: str, size: int, after: str | None
    ) -> list[claims.ClaimedAsset]:
        with self.engine.begin() as conn:
            claims.drop_expired(conn, col.id)
            batch = claims.claim(
                conn, self._me, col.id, [type_id], size, self.settings.lease_s, after
            )
        if batch:
            if not self._held:
                self._renewed_at = time.monotonic()
            self._held |= {asset.id for asset in batch}
            self.report.batches += 1
            self.report.claimed += len(batch)
            log.info("claimed", collection=col.label, enricher=type_id, assets=len(batch))
        return batch

    def _store_as_they_come(self, col, cls, rounds, feed: _Feed) -> None:
        buffer: list[EnrichOutcome] = []
        stored_at = time.monotonic()
        for done in rounds:
            buffer.extend(done)
            for outcome in done:
                feed.learn(outcome.elapsed_s)
            now = time.monotonic()
            if len(buffer) >= self.flush or (buffer and now - stored_at >= self.flush_s):
                self._store(col, cls, buffer, feed.paths)
                buffer, stored_at = [], now
            if self._held and now - self._renewed_at >= self.settings.lease_s / 3:
                self._renew()
        if buffer:
            self._store(col, cls, buffer, feed.paths)

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
            # done with these (stored or not): their claims go, the other types claim afresh
            claims.release(conn, self._me, ids)
        self._held -= set(ids)
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


class _Feed:
    """The inputs of one drain's pool: claimed a batch at a time as the pool asks for more,
    each claim sized to about ``CLAIM_S`` of work per pool process, so a worker never sits on
    files another could be enriching.  Assets the upstream listing already answers skip the
    pool (``take_known``)."""

    def __init__(self, worker: EnrichmentWorker, col: WorkCollection, cls: type[BaseEnricher]):
        self.worker, self.col, self.cls = worker, col, cls
        self.claimed = False
        self.paths: dict[str, str] = {}
        self.processes = worker.settings.concurrency or os.cpu_count() or 1
        self.estimate_s: float | None = None

    def learn(self, elapsed_s: float) -> None:
        seen = max(elapsed_s, 1e-4)
        self.estimate_s = seen if self.estimate_s is None else 0.8 * self.estimate_s + 0.2 * seen

    def _size(self) -> int:
        if self.estimate_s is None:  # nothing measured yet: one per process to learn from
            return min(self.worker.settings.batch, self.processes)
        wanted = int(CLAIM_S * self.processes / self.estimate_s)
        return max(1, min(self.worker.settings.batch, wanted))

    def inputs(self) -> Iterator[EnrichInput]:
        after: str | None = None
        while True:
            batch = self.worker._claim(self.col, self.cls.type_id, self._size(), after)
            if not batch and after is not None:
                # the end of the collection: once more from its start, for what was skipped
                # (held by others then, or given back since)
                after = None
                batch = self.worker._claim(self.col, self.cls.type_id, self._size(), after)
            if not batch:
                return
            after = batch[-1].source_uri
            self.claimed = True
            rows = [
                _Row(a.id, self.col.to_local(a.canonical_uri), a.change_token, a.metadata)
                for a in batch
            ]
            self.paths.update({str(row.id): row.canonical_uri for row in rows})
            known, to_probe = split_known(self.cls, rows)
            if known:  # stored at once: no pool round comes for them
                cls = self.cls
                outcomes = [
                    EnrichOutcome(
                        i.asset_id, i.change_token, cls.type_id, cls.version, d, None, None, 0.0
                    )
                    for i, d in known
                ]
                self.worker._store(self.col, cls, outcomes, self.paths)
            yield from to_probe

    def close(self) -> None:
        """Claims the pool never answered (it was stopped) go back to the pool."""
        if self.worker._held:
            self.worker._let_go()


@dataclass(frozen=True)
class _Row:
    """What ``split_known`` reads of a claimed asset (its path already local to this machine)."""

    id: uuid.UUID
    canonical_uri: str
    change_token: str
    metadata: dict | None
