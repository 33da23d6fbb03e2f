"""Write one collection's asset diff in bulk: Core executemany, batches, no per-row ORM.

Runs inside the caller's transaction; the caller commits or rolls back the whole collection.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, bindparam, update

from retrovue.database.models import Asset, Collection
from retrovue.diff.assets import AssetDiff, diff_assets
from retrovue.execute.bulk import insert_new_assets
from retrovue.importers.base import BaseImporter
from retrovue.model.counts import IngestCounts
from retrovue.observe.db import as_uuid, load_asset_index

BATCH = 5_000
_assets = Asset.__table__

_UPDATE_CHANGED = (
    update(_assets)
    .where(_assets.c.id == bindparam("b_id"))
    .values(
        canonical_uri=bindparam("b_canonical"),
        kind=bindparam("b_kind"),
        title=bindparam("b_title"),
        series_title=bindparam("b_series"),
        season_number=bindparam("b_season"),
        episode_number=bindparam("b_episode"),
        year=bindparam("b_year"),
        duration_ms=bindparam("b_duration"),
        size=bindparam("b_size"),
        change_token=bindparam("b_token"),
        state="new",
        approved_for_broadcast=False,
        missing_since=None,
        updated_at=bindparam("b_now"),
    )
)
_UPDATE_CANONICAL = (
    update(_assets)
    .where(_assets.c.id == bindparam("b_id"))
    .values(
        canonical_uri=bindparam("b_canonical"), missing_since=None, updated_at=bindparam("b_now")
    )
)


class InvariantError(Exception):
    """A count identity failed before commit (every discovered item must land in exactly one
    count); the collection rolls back rather than commit numbers that do not add up."""


def ingest_collection(
    conn: Connection,
    importer: BaseImporter,
    collection_id: uuid.UUID,
    external_id: str,
    *,
    to_canonical: Callable[[str], str | None] | None,
    now: datetime,
    missing_threshold: float,
    allow_mass_missing: bool,
    title: str | None = None,
    season: int | None = None,
    episode: int | None = None,
    on_item: Callable[[], None] | None = None,
) -> AssetDiff:
    existing = load_asset_index(conn, collection_id)
    narrowed = title is not None
    # a progress display that knows phases gets them; the stored count estimates the listing
    start_phase = getattr(on_item, "start_phase", None)
    if start_phase is not None:
        start_phase("scanning", len(existing) if existing and not narrowed else None)
    diff = diff_assets(
        existing,
        importer.fetch_assets_for_collection(
            external_id, filter_title=title, filter_season=season, filter_episode=episode
        ),
        to_canonical=to_canonical,
        full_scope=not narrowed,
        missing_threshold=missing_threshold,
        allow_mass_missing=allow_mass_missing,
        on_item=on_item,
        describe=importer.describe,
    )
    check_identity(diff.counts())
    if start_phase is not None:
        start_phase("writing", len(diff.new) + len(diff.changed) + len(diff.remapped))
    write_diff(conn, collection_id, diff, now)
    conn.execute(
        update(Collection.__table__)
        .where(Collection.id == collection_id)
        .values(last_ingest_at=now)
    )
    return diff


def check_identity(c: IngestCounts) -> None:
    total = c.new + c.changed + c.remapped + c.unchanged + c.unmapped + c.duplicates + c.unusable
    if c.discovered != total:
        raise InvariantError(f"count identity failed: discovered {c.discovered} != {total}")


def write_diff(conn: Connection, collection_id: uuid.UUID, diff: AssetDiff, now: datetime) -> None:
    insert_new_assets(conn, collection_id, diff.new, now)
    _batched(
        conn,
        _UPDATE_CHANGED,
        (
            {
                "b_id": as_uuid(asset_id),
                "b_canonical": canonical,
                "b_kind": item.kind,
                "b_title": item.title,
                "b_series": item.series_title,
                "b_season": item.season_number,
                "b_episode": item.episode_number,
                "b_year": item.year,
                "b_duration": item.duration_ms,
                "b_size": item.size,
                "b_token": item.change_token,
                "b_now": now,
            }
            for asset_id, item, canonical in diff.changed
        ),
    )
    _batched(
        conn,
        _UPDATE_CANONICAL,
        (
            {"b_id": as_uuid(asset_id), "b_canonical": canonical, "b_now": now}
            for asset_id, canonical in diff.remapped
        ),
    )
    _set_missing(conn, diff.reappeared, None, now)
    _set_missing(conn, diff.missing, now, now)


def _batched(conn: Connection, statement, params) -> None:
    batch = []
    for p in params:
        batch.append(p)
        if len(batch) >= BATCH:
            conn.execute(statement, batch)
            batch = []
    if batch:
        conn.execute(statement, batch)


def _set_missing(conn: Connection, ids: list, value: datetime | None, now: datetime) -> None:
    for start in range(0, len(ids), 900):  # stays under SQLite's bound-parameter limit
        chunk = [as_uuid(i) for i in ids[start : start + 900]]
        conn.execute(
            update(_assets)
            .where(_assets.c.id.in_(chunk))
            .values(missing_since=value, updated_at=now)
        )
