"""Enrich one collection: its enrichers in run order, over the assets still to enrich.

The work is chosen here, from the database, inside the run (``observe.enrichment.pending``): a
plan's count is a preview, so a saved plan cannot widen or narrow what gets probed.  Results are
committed in batches (every ``batch`` results, or every ``flush_s`` seconds while some wait, also
when a slow file holds up the rest), each with the apply lock re-checked just before it commits,
so Ctrl-C or a kill loses at most the batch in progress and the next run picks up the rest: what
is committed is not pending any more.

An asset's lifecycle: ``new`` while any of its collection's enrichers has not succeeded for its
current change token; ``enriching`` while a run works on it; ``ready`` once they all have.  A
failure is recorded (code and message) and leaves the asset ``new``; it is tried again when its
change token changes, or with ``retry_failed``.  Two choices, written down:

- With no enricher attached, nothing looked at the media: assets stay ``new``.
- A ``ready`` asset stays ``ready`` when a later enricher fails on it or a new one is attached
  (``ready`` is what approval rests on; demoting it would revoke an operator's approval as a side
  effect).  Its failure is still recorded and shown.  Only a changed file, at ingest, goes back to
  ``new``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, delete, insert, select, update

from retrovue.database.tables import Asset, AssetEnrichment
from retrovue.enrichers.base import BaseEnricher, EnrichInput, resolve_params
from retrovue.enrichers.errors import PLUGIN_ERROR
from retrovue.enrichers.pool import EnrichOutcome, run_enrichment_rounds
from retrovue.enrichers.registry import EnricherRegistry
from retrovue.errors import LockLostError, RetrovueError
from retrovue.logs import get_logger
from retrovue.model.enrichment import (
    PROBED_COLUMNS,
    EnrichCounts,
    EnricherSpec,
    EnrichFailure,
)
from retrovue.model.enums import AssetState
from retrovue.model.results import MAX_LISTED_FAILURES
from retrovue.observe.db import as_uuid
from retrovue.observe.enrichment import live_claim, pending, succeeded_all

log = get_logger("retrovue.execute")


#: results per committed batch, and the longest a result waits to be committed
BATCH = 200
FLUSH_S = 2.0
#: the assets columns an enricher's ``hot_columns`` may fill; anything else it returns is ignored
HOT_COLUMNS = frozenset({"duration_ms", *PROBED_COLUMNS})
_STRING_COLUMNS = {"container": 64, "video_codec": 64, "audio_codec": 64}
_INT_LIMIT = 2**63 - 1
#: stored error messages are cut here: a plugin's message is upstream-ish text
MAX_ERROR_CHARS = 1000


@dataclass
class EnrichmentRun:
    """What one collection's enrichment did so far (the executor turns it into an outcome)."""

    counts: dict[str, EnrichCounts] = field(default_factory=dict)
    failures: list[EnrichFailure] = field(default_factory=list)
    #: run-level errors by type (unavailable enricher, bad params, a worker that cannot start)
    errors: list[RetrovueError] = field(default_factory=list)
    #: assets a killed run had left ``enriching`` that this one settled (new or ready)
    reset: int = 0
    #: every asset any enricher of this run recorded a result for: True while all succeeded
    assets: dict[str, bool] = field(default_factory=dict)

    @property
    def assets_enriched(self) -> int:
        return sum(self.assets.values())

    @property
    def assets_failed(self) -> int:
        return len(self.assets) - self.assets_enriched


@dataclass
class CollectionEnricher:
    engine: Engine
    registry: EnricherRegistry
    collection_id: uuid.UUID
    specs: tuple[EnricherSpec, ...]
    clock: Callable[[], datetime]
    #: raises LockLostError unless the apply lock is still ours (given the connection about to
    #: commit)
    guard: Callable[[Connection | None], None]
    force: bool = False
    retry_failed: bool = False
    workers: int | None = None
    batch: int = BATCH
    flush_s: float = FLUSH_S
    #: progress display: called once per result; may offer ``start_phase(name, total)``
    on_result: Callable[[], None] | None = None
    run: EnrichmentRun = field(default_factory=EnrichmentRun)
    #: per enricher type, the ids of the assets whose facts it built from the upstream listing
    #: instead of reading their file (another enricher may still read the same assets' files)
    _listed: dict[str, set[str]] = field(default_factory=dict)

    def enrich(self) -> EnrichmentRun:
        """Run every enricher; a LockLostError or KeyboardInterrupt propagates after the last
        committed batch (assets a run marked ``enriching`` go back to ``new`` unless the lock
        was lost, when nothing more is written).  With no enricher attached, only what a killed
        run left ``enriching`` is settled."""
        if not self.specs:
            return self.settle_stuck()
        try:
            for spec in self.specs:
                self._enrich_with(spec)
        except LockLostError:
            raise  # no longer ours to write: the next run settles what this one left
        except BaseException:
            self._settle(promote=False)
            raise
        self._settle(promote=True)
        return self.run

    def settle_stuck(self) -> EnrichmentRun:
        """Settle only the assets a killed run left ``enriching``; nothing is enriched.  (This run
        holds the apply lock, so no live run is working on them.)"""
        with self.engine.begin() as conn:
            self.run.reset += self._settle_stuck(conn)
            self.guard(conn)
        return self.run

    def _settle_stuck(self, conn: Connection) -> int:
        """The collection's ``enriching`` assets by the ready rule with the enrichers attached
        now: ready when every one succeeded for the asset's change token, else new (with none
        attached, new: nothing looked at the media).  How many there were."""
        enriching = (
            Asset.c.collection_id == self.collection_id,
            Asset.c.state == AssetState.ENRICHING,
        )
        ready = 0
        if self.specs:  # with none, succeeded_all holds for every asset
            ready = conn.execute(
                update(Asset)
                .where(*enriching, Asset.c.missing_since.is_(None), succeeded_all(self._types))
                .values(state=AssetState.READY)
            ).rowcount
        return (
            ready
            + conn.execute(update(Asset).where(*enriching).values(state=AssetState.NEW)).rowcount
        )

    @property
    def _types(self) -> list[str]:
        return [spec.type for spec in self.specs]

    # -- one enricher type ------------------------------------------------------------------

    def _enrich_with(self, spec: EnricherSpec) -> None:
        try:
            cls = self.registry.require_available(spec.type)
            params = resolve_params(cls.param_spec(), spec.params)
        except RetrovueError as exc:
            exc.message = f"{exc.message} (collection enrichers: {spec.type})"
            self.run.errors.append(exc)
            log.info("enricher not run", enricher=spec.type, error=exc.message)  # results say it
            return
        version = str(cls.version)
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(
                    Asset.c.id,
                    Asset.c.canonical_uri,
                    Asset.c.change_token,
                    Asset.c.metadata,
                )
                .where(Asset.c.collection_id == self.collection_id, self._pending(spec.type))
                .order_by(Asset.c.canonical_uri)
            ).all()
            if rows:
                conn.execute(
                    update(Asset)
                    .where(
                        Asset.c.collection_id == self.collection_id,
                        Asset.c.state == AssetState.NEW,
                        self._pending(spec.type),
                    )
                    .values(state=AssetState.ENRICHING)
                )
                self.guard(conn)
        self.run.counts[spec.type] = EnrichCounts(spec.type)
        if not rows:
            return
        start_phase = getattr(self.on_result, "start_phase", None)
        if start_phase is not None:
            start_phase(f"enriching ({spec.type})", len(rows))
        paths = {str(row.id): row.canonical_uri for row in rows}
        known, to_probe = split_known(cls, rows)
        self._listed[spec.type] = {item.asset_id for item, _ in known}
        rounds = chain_rounds(
            [[self._known_outcome(cls, item, data) for item, data in known]],
            run_enrichment_rounds(
                spec.type, params, to_probe, workers=self.workers, registry=self.registry
            )
            if to_probe
            else (),
        )
        try:
            self._commit_as_they_come(cls, version, rounds, paths)
        finally:
            rounds.close()  # stops the workers at once when the loop ended early

    def _commit_as_they_come(self, cls, version: str, rounds, paths: dict[str, str]) -> None:
        """Commit every ``batch`` results, and whatever has waited ``flush_s``: the pool hands
        over a (maybe empty) round at least twice a second, so finished results are committed
        while a slow file is still being worked on, not when the next result comes."""
        buffer: list[EnrichOutcome] = []
        last_flush = time.monotonic()
        for done in rounds:
            for outcome in done:
                buffer.append(outcome)
                if self.on_result is not None:
                    self.on_result()
                if len(buffer) >= self.batch:
                    self._commit(cls, version, buffer, paths)
                    buffer, last_flush = [], time.monotonic()
            if buffer and time.monotonic() - last_flush >= self.flush_s:
                self._commit(cls, version, buffer, paths)
                buffer, last_flush = [], time.monotonic()
        if buffer:
            self._commit(cls, version, buffer, paths)

    def _pending(self, type_id: str):
        # what a `retrovue worker` holds is left to it: two results for one file help nobody
        return and_(
            pending(type_id, force=self.force, retry_failed=self.retry_failed), ~live_claim()
        )

    def _known_outcome(self, cls: type[BaseEnricher], item: EnrichInput, data) -> EnrichOutcome:
        return EnrichOutcome(
            item.asset_id, item.change_token, cls.type_id, cls.version, data, None, None, 0.0
        )

    # -- one committed batch ----------------------------------------------------------------

    def _commit(
        self,
        cls: type[BaseEnricher],
        version: str,
        outcomes: list[EnrichOutcome],
        paths: dict[str, str],
    ) -> None:
        now = self.clock()
        ids = [as_uuid(o.asset_id) for o in outcomes]
        records = [record_of(cls, o, version, now, self.collection_id) for o in outcomes]
        with self.engine.begin() as conn:
            conn.execute(
                delete(AssetEnrichment).where(
                    AssetEnrichment.c.enricher_type == cls.type_id,
                    AssetEnrichment.c.asset_id.in_(ids),
                )
            )
            conn.execute(insert(AssetEnrichment), [r.ledger for r in records])
            stored = dict(
                conn.execute(select(Asset.c.id, Asset.c.metadata).where(Asset.c.id.in_(ids))).all()
            )
            updates = []
            for asset_id, record in zip(ids, records, strict=True):
                metadata = dict(stored.get(asset_id) or {})
                results = dict(metadata.get("enrichers") or {})
                results[cls.type_id] = record.stored
                metadata["enrichers"] = results
                updates.append({"b_id": asset_id, "b_metadata": metadata, **record.columns})
            write_assets(conn, updates)
            self._promote(conn, ids)
            self.guard(conn)
        self._count(cls.type_id, outcomes, records, paths)

    def _promote(self, conn: Connection, ids: list[uuid.UUID]) -> None:
        """The batch's assets that every enricher has now succeeded on become ready; the rest
        that this run marked go back to new."""
        scope = [
            Asset.c.state.in_((AssetState.NEW, AssetState.ENRICHING)),
            Asset.c.missing_since.is_(None),
        ]
        if ids is not None:
            scope.append(Asset.c.id.in_(ids))
        else:
            scope.append(Asset.c.collection_id == self.collection_id)
        conn.execute(
            update(Asset).where(*scope, succeeded_all(self._types)).values(state=AssetState.READY)
        )
        if ids is not None:  # a recorded result is not pending: nothing would settle it later
            back = (Asset.c.id.in_(ids), Asset.c.state == AssetState.ENRICHING)
            conn.execute(update(Asset).where(*back).values(state=AssetState.NEW))

    def _settle(self, *, promote: bool) -> None:
        """After the last batch (or an interruption): nothing stays ``enriching``, and every
        asset all enrichers have succeeded on is ready (also those no batch of this run touched:
        an enricher detached since their last run may have been the one that failed).  After
        the last batch every asset this run marked is settled, so what is still ``enriching``
        is what a killed run left (counted as reset)."""
        try:
            with self.engine.begin() as conn:
                if promote:
                    self.run.reset += self._settle_stuck(conn)
                    self._promote(conn, None)
                else:
                    conn.execute(
                        update(Asset)
                        .where(
                            Asset.c.collection_id == self.collection_id,
                            Asset.c.state == AssetState.ENRICHING,
                        )
                        .values(state=AssetState.NEW)
                    )
                self.guard(conn)
        except RetrovueError:
            raise
        except Exception:  # noqa: BLE001 - best effort on the way out; the next run settles it
            if promote:
                raise
            log.warning(
                "could not reset assets left enriching", collection_id=str(self.collection_id)
            )

    def _count(self, type_id, outcomes, records, paths) -> None:
        """Add a committed batch to the run: its runs per type, its assets, its failures."""
        succeeded = [record.ledger["error_code"] is None for record in records]
        listed = self._listed.get(type_id, set())
        counts, enriched = self.run.counts[type_id], sum(succeeded)
        self.run.counts[type_id] = EnrichCounts(
            type_id,
            counts.enriched + enriched,
            counts.failed + len(records) - enriched,
            counts.from_listing
            + sum(ok and o.asset_id in listed for o, ok in zip(outcomes, succeeded, strict=True)),
        )
        for outcome, record, ok in zip(outcomes, records, succeeded, strict=True):
            # an asset is enriched only while every enricher that ran on it succeeded
            self.run.assets[outcome.asset_id] = ok and self.run.assets.get(outcome.asset_id, True)
            if not ok:
                self._failed(type_id, outcome.asset_id, record, paths.get(outcome.asset_id, ""))

    def _failed(self, type_id: str, asset_id: str, record: EnrichRecord, path: str) -> None:
        code, message = record.ledger["error_code"], record.ledger["error_message"]
        # at info: the result lines print each failure; a warning would print it twice, and
        # through the live progress line
        log.info("asset not enriched", enricher=type_id, path=path, code=code, error=message)
        if len(self.run.failures) < MAX_LISTED_FAILURES:
            self.run.failures.append(EnrichFailure(asset_id, path, type_id, code, message))


@dataclass(frozen=True)
class EnrichRecord:
    ledger: dict[str, Any]
    stored: dict[str, Any]  # assets.metadata["enrichers"][type]
    columns: dict[str, Any]  # b_<column> bind values for the hot columns


def record_of(
    cls: type[BaseEnricher], outcome: EnrichOutcome, version: str, now, collection_id
) -> EnrichRecord:
    code, message, data = outcome.error_code, outcome.error_message, outcome.data
    if code is None:
        try:
            # the stored form must be plain JSON: a plugin returning anything else failed
            data = json.loads(json.dumps(data, allow_nan=False))
            if not isinstance(data, dict):
                raise TypeError(f"enrich() returned {type(data).__name__}, not a dict")
        except (TypeError, ValueError) as exc:
            code, message, data = PLUGIN_ERROR, f"unstorable result: {exc}", None
    message = message[:MAX_ERROR_CHARS] if message else message
    token = outcome.change_token or ""
    ledger = {
        "asset_id": as_uuid(outcome.asset_id),
        "enricher_type": cls.type_id,
        "collection_id": collection_id,
        "version": version,
        "change_token": token,
        "error_code": code,
        "error_message": message,
        "enriched_at": now,
    }
    stored: dict[str, Any] = {
        "version": version,
        "change_token": token,
        "enriched_at": now.isoformat(),
    }
    if code is None:
        stored["data"] = data
    else:
        stored["error"] = {"code": code, "message": message}
    return EnrichRecord(ledger, stored, _hot_columns(cls, data) if code is None else {})


def _hot_columns(cls: type[BaseEnricher], data: dict[str, Any]) -> dict[str, Any]:
    hook = getattr(cls, "hot_columns", None)
    if hook is None:
        return {}
    try:
        wanted = dict(hook(data) or {})
    except Exception as exc:  # noqa: BLE001 - a plugin's bug costs its columns, not the run
        log.warning(
            "hot_columns failed", enricher=cls.type_id, error=f"{type(exc).__name__}: {exc}"
        )
        return {}
    columns = {}
    for name, value in wanted.items():
        if name not in HOT_COLUMNS or value is None:
            continue
        if name in _STRING_COLUMNS:
            if isinstance(value, str):
                columns[name] = value[: _STRING_COLUMNS[name]]
        elif name == "loudness_lufs":
            if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
                columns[name] = float(value)
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _INT_LIMIT:
            columns[name] = value
    return columns


def write_assets(conn: Connection, updates: list[dict[str, Any]]) -> None:
    """One executemany per shape: rows with the same hot columns share a statement."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in updates:
        names = tuple(sorted(k for k in row if k not in ("b_id", "b_metadata")))
        shapes.setdefault(names, []).append(
            {("b_" + k if k in HOT_COLUMNS else k): v for k, v in row.items()}
        )
    for names, rows in shapes.items():
        values = {"metadata": bindparam("b_metadata")}
        values.update({name: bindparam("b_" + name) for name in names})
        conn.execute(update(Asset).where(Asset.c.id == bindparam("b_id")).values(**values), rows)


def split_known(cls: type[BaseEnricher], rows) -> tuple[list, list[EnrichInput]]:
    """(inputs the upstream listing already answers, with their facts), (inputs to probe)."""
    hook = getattr(cls, "from_media_info", None)
    known, to_probe = [], []
    for row in rows:
        media = (row.metadata or {}).get("media") if isinstance(row.metadata, dict) else None
        item = EnrichInput(str(row.id), row.canonical_uri, row.change_token, media or {})
        data = None
        if media and hook is not None:
            try:
                data = hook(media)
            except Exception:  # noqa: BLE001 - then the file is probed, as if nothing was known
                data = None
        if data is not None:
            known.append((item, data))
        else:
            to_probe.append(item)
    return known, to_probe


def chain_rounds(
    *rounds: Iterable[list[EnrichOutcome]],
) -> Generator[list[EnrichOutcome], None, None]:
    """The rounds of each in turn; closing it closes the one in progress (a pool's workers stop)."""
    for each in rounds:
        try:
            yield from each
        finally:
            close = getattr(each, "close", None)
            if close is not None:
                close()
