"""What the database says about enrichment: attachments, and which assets are still to enrich.

"Still to enrich" by one enricher type is one condition on ``assets`` (``pending``), shared by the
plan's count, the run's selection and its marking, so a plan's number and a run's work are the
same set: a present asset with no attempt recorded for its current change token, or (with
``retry_failed``) whose attempt for it failed, or every present asset (``force``).  A recorded
attempt for an older change token does not count: a changed file is enriched again.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy import Connection, String, and_, cast, exists, func, or_, select

from retrovue.database.tables import Asset, AssetEnrichment, EnricherAttachment, EnrichmentClaim
from retrovue.model.enrichment import EnricherSpec, EnrichProgress, effective, run_order


def pending(type_id: str, *, force: bool = False, retry_failed: bool = False):
    """The condition on ``assets`` selecting the present assets ``type_id`` would enrich."""
    present = Asset.c.missing_since.is_(None)
    if force:
        return present
    attempt = and_(
        AssetEnrichment.c.asset_id == Asset.c.id,
        AssetEnrichment.c.enricher_type == type_id,
        AssetEnrichment.c.change_token == Asset.c.change_token,
    )
    if retry_failed:
        attempt = and_(attempt, AssetEnrichment.c.error_code.is_(None))
    return and_(present, ~exists().where(attempt))


def live_claim():
    """The condition on ``assets``: a `retrovue worker` holds a lease on it that has not run out.
    As ``IN (subquery)``, which PostgreSQL hashes once (the claims table holds only assets in
    flight), not as a join it may plan as a scan of the claims per asset."""
    return Asset.c.id.in_(
        select(EnrichmentClaim.c.asset_id).where(EnrichmentClaim.c.lease_until > func.now())
    )


def pending_any(type_ids) -> object:
    """The condition on ``assets``: present, and one of ``type_ids`` has not tried it for its
    change token (a failed attempt is not pending: it waits for a change or --retry-failed)."""
    return or_(*(pending(type_id) for type_id in type_ids))


def count_pending_any(conn: Connection, collection_id: uuid.UUID, type_ids) -> int:
    """Assets of the collection some of ``type_ids`` has still to enrich."""
    if not type_ids:
        return 0
    return conn.execute(
        select(func.count())
        .select_from(Asset)
        .where(Asset.c.collection_id == collection_id, pending_any(type_ids))
    ).scalar_one()


def enrich_progress(conn: Connection, collection_id: uuid.UUID, type_ids) -> EnrichProgress:
    """Assets still to enrich, and the workers' claims on them: the count of pending assets only
    when the two index-only counts per type cannot prove there are none; the claims table holds
    only assets in flight."""
    type_ids = list(type_ids)
    to_enrich = 0
    if any(not nothing_pending(conn, collection_id, t) for t in type_ids):
        to_enrich = count_pending_any(conn, collection_id, type_ids)
    live = func.count().filter(EnrichmentClaim.c.lease_until > func.now())
    claimed, total = conn.execute(
        select(live, func.count()).where(EnrichmentClaim.c.collection_id == collection_id)
    ).one()
    return EnrichProgress(to_enrich, int(claimed), int(total) - int(claimed))


def succeeded_all(type_ids: list[str]):
    """The condition on ``assets``: every one of ``type_ids`` succeeded for its change token."""
    return and_(
        *(
            exists().where(
                AssetEnrichment.c.asset_id == Asset.c.id,
                AssetEnrichment.c.enricher_type == type_id,
                AssetEnrichment.c.change_token == Asset.c.change_token,
                AssetEnrichment.c.error_code.is_(None),
            )
            for type_id in type_ids
        )
    )


def count_enriching(conn: Connection, collection_id: uuid.UUID) -> int:
    """Assets of the collection in ``enriching``.  A run marks them only while it works on them
    under the apply lock, so to a reader that holds no run they are what a killed run left."""
    return conn.execute(
        select(func.count())
        .select_from(Asset)
        .where(Asset.c.collection_id == collection_id, Asset.c.state == "enriching")
    ).scalar_one()


def failed_count(conn: Connection, collection_id: uuid.UUID, type_id: str) -> int:
    """Present assets whose attempt for their current change token failed."""
    return conn.execute(
        select(func.count())
        .select_from(Asset.join(AssetEnrichment, AssetEnrichment.c.asset_id == Asset.c.id))
        .where(
            Asset.c.collection_id == collection_id,
            Asset.c.missing_since.is_(None),
            AssetEnrichment.c.enricher_type == type_id,
            AssetEnrichment.c.change_token == Asset.c.change_token,
            AssetEnrichment.c.error_code.is_not(None),
        )
    ).scalar_one()


def load_attachments(
    conn: Connection,
) -> tuple[dict[uuid.UUID, tuple[EnricherSpec, ...]], dict[uuid.UUID, tuple[EnricherSpec, ...]]]:
    """Every attachment in one SELECT: (by source id, by collection id), each in run order."""
    by_source: dict[uuid.UUID, list[EnricherSpec]] = defaultdict(list)
    by_collection: dict[uuid.UUID, list[EnricherSpec]] = defaultdict(list)
    for row in conn.execute(select(EnricherAttachment)):
        spec = EnricherSpec(row.enricher_type, row.priority, dict(row.params or {}))
        if row.source_id is not None:
            by_source[row.source_id].append(spec)
        else:
            by_collection[row.collection_id].append(spec)
    return (
        {k: run_order(v) for k, v in by_source.items()},
        {k: run_order(v) for k, v in by_collection.items()},
    )


def collection_enrichers(
    conn: Connection, source_id: uuid.UUID, collection_id: uuid.UUID
) -> tuple[EnricherSpec, ...]:
    """One collection's effective enrichers, in run order."""
    rows = conn.execute(
        select(EnricherAttachment).where(
            (EnricherAttachment.c.source_id == source_id)
            | (EnricherAttachment.c.collection_id == collection_id)
        )
    ).all()

    def specs(owned) -> list[EnricherSpec]:
        return [
            EnricherSpec(r.enricher_type, r.priority, dict(r.params or {}))
            for r in rows
            if owned(r)
        ]

    return effective(
        specs(lambda r: r.source_id is not None), specs(lambda r: r.collection_id is not None)
    )


def pending_ids(
    conn: Connection,
    collection_id: uuid.UUID,
    type_id: str,
    *,
    force: bool = False,
    retry_failed: bool = False,
) -> set[str]:
    """The ids (as text) of the assets ``type_id`` would enrich: none when ``nothing_pending``
    proves it, else one SELECT."""
    if not force and nothing_pending(conn, collection_id, type_id, retry_failed=retry_failed):
        return set()
    rows = conn.execute(
        select(cast(Asset.c.id, String)).where(
            Asset.c.collection_id == collection_id,
            pending(type_id, force=force, retry_failed=retry_failed),
        )
    )
    return {row[0] for row in rows}


def nothing_pending(
    conn: Connection, collection_id: uuid.UUID, type_id: str, *, retry_failed: bool = False
) -> bool:
    """True when every asset of the collection has an attempt by ``type_id`` (a successful one,
    with ``retry_failed``), from two index-only counts instead of a join over every asset.

    Sound because a ledger row always holds its asset's current change token (ingest deletes the
    rows of a changed asset) and an asset has at most one row per type: as many rows as assets
    means one each.  Missing assets count on both sides alike."""
    assets = conn.execute(
        select(func.count()).select_from(Asset).where(Asset.c.collection_id == collection_id)
    ).scalar_one()
    attempts = (
        select(func.count())
        .select_from(AssetEnrichment)
        .where(
            AssetEnrichment.c.collection_id == collection_id,
            AssetEnrichment.c.enricher_type == type_id,
        )
    )
    if retry_failed:
        attempts = attempts.where(AssetEnrichment.c.error_code.is_(None))
    return conn.execute(attempts).scalar_one() == assets
