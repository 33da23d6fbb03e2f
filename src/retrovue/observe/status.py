"""What `retrovue status` reads: per source its assets by state, its enrichment backlog, its
last ingest run, its last failed one, and the last reconcile a `watch` recorded.

Each is one grouped query whatever the catalogue's size.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import Connection, and_, func, select

from retrovue.database.tables import Asset, AssetEnrichment, Collection, IngestRun, Setting, Source
from retrovue.model.time import as_utc

#: a watch's last reconcile of a source is kept in ``settings`` under this prefix and its id
RECONCILE_PREFIX = "reconcile:"


def sources(conn: Connection) -> list:
    return list(
        conn.execute(select(Source.c.id, Source.c.name, Source.c.type).order_by(Source.c.name))
    )


def asset_states(conn: Connection) -> dict[uuid.UUID, dict[str, int]]:
    """source id -> {state: present assets, "missing": missing ones}."""
    missing = Asset.c.missing_since.is_not(None)
    rows = conn.execute(
        select(Collection.c.source_id, Asset.c.state, missing.label("gone"), func.count())
        .select_from(Asset.join(Collection, Collection.c.id == Asset.c.collection_id))
        .group_by(Collection.c.source_id, Asset.c.state, missing)
    )
    out: dict[uuid.UUID, dict[str, int]] = {}
    for source_id, state, gone, count in rows:
        key = "missing" if gone else state
        tally = out.setdefault(source_id, {})
        tally[key] = tally.get(key, 0) + int(count)
    return out


def failed_assets(conn: Connection) -> dict[uuid.UUID, int]:
    """source id -> present assets an enricher failed on for their current file."""
    rows = conn.execute(
        select(Collection.c.source_id, func.count(func.distinct(Asset.c.id)))
        .select_from(
            Asset.join(Collection, Collection.c.id == Asset.c.collection_id).join(
                AssetEnrichment,
                and_(
                    AssetEnrichment.c.asset_id == Asset.c.id,
                    AssetEnrichment.c.change_token == Asset.c.change_token,
                ),
            )
        )
        .where(Asset.c.missing_since.is_(None), AssetEnrichment.c.error_code.is_not(None))
        .group_by(Collection.c.source_id)
    )
    return {source_id: int(count) for source_id, count in rows}


def last_runs(conn: Connection, *, failed_only: bool = False) -> dict[uuid.UUID, object]:
    """source id -> its latest ingest run (of any of its collections), with the collection's
    name; ``failed_only``: its latest failed one."""
    where = [IngestRun.c.status == "failed"] if failed_only else []
    joined = IngestRun.join(Collection, Collection.c.id == IngestRun.c.collection_id)
    latest = (
        select(Collection.c.source_id, func.max(IngestRun.c.started_at).label("at"))
        .select_from(joined)
        .where(*where)
        .group_by(Collection.c.source_id)
        .subquery()
    )
    rows = conn.execute(
        select(
            Collection.c.source_id,
            Collection.c.name.label("collection"),
            IngestRun.c.trigger,
            IngestRun.c.status,
            IngestRun.c.error,
            IngestRun.c.started_at,
            IngestRun.c.finished_at,
        )
        .select_from(
            joined.join(
                latest,
                and_(
                    latest.c.source_id == Collection.c.source_id,
                    latest.c.at == IngestRun.c.started_at,
                ),
            )
        )
        .where(*where)
    )
    return {row.source_id: row for row in rows}


def recorded_reconciles(conn: Connection) -> dict[uuid.UUID, dict]:
    """source id -> the last reconcile a watch recorded ({at, trigger, outcome, error})."""
    rows = conn.execute(
        select(Setting.c.name, Setting.c.value).where(Setting.c.name.like(RECONCILE_PREFIX + "%"))
    )
    out = {}
    for name, value in rows:
        try:
            out[uuid.UUID(name.removeprefix(RECONCILE_PREFIX))] = json.loads(value)
        except ValueError:  # a row written by hand: not ours to explain
            continue
    return out


def iso(value) -> str | None:
    return None if value is None else as_utc(value).isoformat(timespec="milliseconds")


def collection_states(conn: Connection) -> list[tuple[str, str, str, int]]:
    """(source name, collection name, state or "missing", assets) for every collection with
    assets: the gauges a watch's metrics export."""
    missing = Asset.c.missing_since.is_not(None)
    rows = conn.execute(
        select(Source.c.name, Collection.c.name, Asset.c.state, missing.label("gone"), func.count())
        .select_from(
            Asset.join(Collection, Collection.c.id == Asset.c.collection_id).join(
                Source, Source.c.id == Collection.c.source_id
            )
        )
        .group_by(Source.c.name, Collection.c.name, Asset.c.state, missing)
    )
    tally: dict[tuple[str, str, str], int] = {}
    for source, collection, state, gone, count in rows:
        key = (source, collection, "missing" if gone else state)
        tally[key] = tally.get(key, 0) + int(count)
    return [(*key, n) for key, n in sorted(tally.items())]
