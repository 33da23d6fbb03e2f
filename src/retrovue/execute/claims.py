"""Claims on enrichment work for `retrovue worker` (PostgreSQL only): take, renew, release, and
store results at most once.

The ledger (``asset_enrichments``) stays what says an asset is still to enrich
(``observe.enrichment.pending``); a claim (``enrichment_claims``) only says which worker is on it
and until when.  Every time is the server's (``now()``), never a worker's clock, so machines
whose clocks disagree still agree on whose lease has run out.

- **Claim**: the collection's pending assets nobody holds a live lease on, ``FOR UPDATE SKIP
  LOCKED`` on their ``assets`` rows, so two workers claiming at once take different assets
  without waiting for each other; a claim row per asset, inserted over an expired one.
- **Renew**: push the lease on; the rows a worker gets back are the ones still its own.
- **Store**: in one transaction, the batch's claim rows and asset rows are locked, outcomes for
  an asset the worker no longer holds or whose file changed since (another change token) are
  dropped, and the ledger row is written with ``INSERT … ON CONFLICT DO UPDATE … WHERE`` the
  stored row is for another change token or version: a result for the same (asset, change
  token, enricher, version) is stored at most once, whoever computed it, and what the database
  did not store is not written into the asset either.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from retrovue.database.tables import Asset, AssetEnrichment, EnrichmentClaim
from retrovue.enrichers.base import BaseEnricher
from retrovue.enrichers.pool import EnrichOutcome
from retrovue.model.enums import AssetState
from retrovue.observe.enrichment import live_claim, pending_any, succeeded_all

_LEDGER_VALUES = ("collection_id", "version", "change_token", "error_code", "error_message")


@dataclass(frozen=True)
class ClaimedAsset:
    id: uuid.UUID
    collection_id: uuid.UUID
    canonical_uri: str
    change_token: str
    metadata: dict[str, Any] | None
    source_uri: str


def claim(
    conn: Connection,
    worker: str,
    collection_id: uuid.UUID,
    type_ids: Sequence[str],
    limit: int,
    lease_s: float,
    after: str | None = None,
) -> list[ClaimedAsset]:
    """Up to ``limit`` of the collection's assets still to enrich by one of ``type_ids`` that no
    live lease holds, now claimed by ``worker`` for ``lease_s`` seconds; the caller commits.

    In ``source_uri`` order, from just past ``after`` (the last one this worker claimed): the
    collection's index is walked forward once per drain instead of from its start every claim,
    which would read every asset enriched so far again (quadratic over a large collection)."""
    where = [Asset.c.collection_id == collection_id, pending_any(type_ids), ~live_claim()]
    if after is not None:
        where.append(Asset.c.source_uri > after)
    rows = conn.execute(
        select(
            Asset.c.id,
            Asset.c.collection_id,
            Asset.c.canonical_uri,
            Asset.c.change_token,
            Asset.c.metadata,
            Asset.c.source_uri,
        )
        .where(*where)
        .order_by(Asset.c.source_uri)
        .limit(limit)
        .with_for_update(of=Asset, skip_locked=True)
    ).all()
    if not rows:
        return []
    until = func.now() + timedelta(seconds=lease_s)
    insert = pg_insert(EnrichmentClaim).values(
        [
            {
                "asset_id": row.id,
                "collection_id": row.collection_id,
                "worker": worker,
                "lease_until": until,
                "claimed_at": func.now(),
            }
            for row in rows
        ]
    )
    taken = set(
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[EnrichmentClaim.c.asset_id],
                set_={
                    "worker": insert.excluded.worker,
                    "lease_until": insert.excluded.lease_until,
                    "claimed_at": insert.excluded.claimed_at,
                },
                # only over a lease that ran out (the row lock above already keeps live ones out)
                where=EnrichmentClaim.c.lease_until <= func.now(),
            ).returning(EnrichmentClaim.c.asset_id)
        ).scalars()
    )
    return [ClaimedAsset(*row) for row in rows if row.id in taken]


def has_pending(conn: Connection, collection_id: uuid.UUID, type_ids: Sequence[str]) -> bool:
    """Whether any asset of the collection is still to enrich, claimed or not."""
    return conn.execute(
        select(exists().where(Asset.c.collection_id == collection_id, pending_any(type_ids)))
    ).scalar_one()


def renew(conn: Connection, worker: str, ids: Iterable[uuid.UUID], lease_s: float) -> set:
    """Push ``worker``'s lease on ``ids`` on by ``lease_s``; the ids it still holds."""
    ids = list(ids)
    if not ids:
        return set()
    return set(
        conn.execute(
            update(EnrichmentClaim)
            .where(EnrichmentClaim.c.worker == worker, EnrichmentClaim.c.asset_id.in_(ids))
            .values(lease_until=func.now() + timedelta(seconds=lease_s))
            .returning(EnrichmentClaim.c.asset_id)
        ).scalars()
    )


def release(conn: Connection, worker: str, ids: Iterable[uuid.UUID] | None = None) -> int:
    """Drop ``worker``'s claims (on ``ids``, or all of them): that work is back in the pool."""
    statement = delete(EnrichmentClaim).where(EnrichmentClaim.c.worker == worker)
    if ids is not None:
        statement = statement.where(EnrichmentClaim.c.asset_id.in_(list(ids)))
    return conn.execute(statement).rowcount


def drop_expired(conn: Connection, collection_id: uuid.UUID) -> int:
    """Forget the collection's claims whose lease ran out: their workers are gone (an asset still
    pending is claimed again; one done meanwhile needs no claim)."""
    return conn.execute(
        delete(EnrichmentClaim).where(
            EnrichmentClaim.c.collection_id == collection_id,
            EnrichmentClaim.c.lease_until <= func.now(),
        )
    ).rowcount


def held(conn: Connection, worker: str, ids: Sequence[uuid.UUID]) -> set:
    """The ids among ``ids`` whose claim is still ``worker``'s, locked until the transaction
    ends, so no other worker can take them over while this one stores its results."""
    return set(
        conn.execute(
            select(EnrichmentClaim.c.asset_id)
            .where(EnrichmentClaim.c.worker == worker, EnrichmentClaim.c.asset_id.in_(ids))
            .with_for_update()
        ).scalars()
    )


def current_tokens(conn: Connection, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """The assets' change tokens and metadata, their rows locked (an ingest changing one waits)."""
    rows = conn.execute(
        select(Asset.c.id, Asset.c.change_token, Asset.c.metadata)
        .where(Asset.c.id.in_(ids))
        .with_for_update()
    ).all()
    return {row.id: row for row in rows}


def store_once(conn: Connection, ledger: list[dict[str, Any]]) -> set:
    """Write ledger rows unless one for the same (asset, enricher, change token, version) is
    there already; the asset ids whose row this statement wrote."""
    if not ledger:
        return set()
    insert = pg_insert(AssetEnrichment).values(ledger)
    stale = or_(
        AssetEnrichment.c.change_token != insert.excluded.change_token,
        AssetEnrichment.c.version != insert.excluded.version,
    )
    return set(
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=[AssetEnrichment.c.asset_id, AssetEnrichment.c.enricher_type],
                set_={
                    **{name: insert.excluded[name] for name in _LEDGER_VALUES},
                    "enriched_at": insert.excluded.enriched_at,
                },
                where=stale,
            ).returning(AssetEnrichment.c.asset_id)
        ).scalars()
    )


def promote(conn: Connection, ids: Sequence[uuid.UUID], type_ids: Sequence[str]) -> int:
    """Of ``ids``, the present assets every one of ``type_ids`` succeeded on become ready."""
    if not ids or not type_ids:
        return 0
    return conn.execute(
        update(Asset)
        .where(
            Asset.c.id.in_(ids),
            Asset.c.state.in_((AssetState.NEW, AssetState.ENRICHING)),
            Asset.c.missing_since.is_(None),
            succeeded_all(list(type_ids)),
        )
        .values(state=AssetState.READY)
    ).rowcount


def keep_current(
    outcomes: Sequence[EnrichOutcome], mine: set, tokens: dict[uuid.UUID, Row]
) -> tuple[list[EnrichOutcome], int]:
    """The outcomes still worth storing: for an asset this worker holds, made for its current
    change token; and how many were dropped."""
    kept = []
    for outcome in outcomes:
        asset_id = uuid.UUID(outcome.asset_id)
        row = tokens.get(asset_id)
        if asset_id in mine and row is not None and row.change_token == outcome.change_token:
            kept.append(outcome)
    return kept, len(outcomes) - len(kept)


def enricher_version(cls: type[BaseEnricher]) -> str:
    return str(cls.version)


def server_now(conn: Connection) -> datetime:
    return conn.execute(select(func.now())).scalar_one()
