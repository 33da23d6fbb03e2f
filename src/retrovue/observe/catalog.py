"""Read-model extras the snapshot does not carry: timestamps, grouped counts and runs.

Each is one query whatever the catalogue's size (never one per row).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, String, func, select, type_coerce

from retrovue.database.models import Asset, Collection, IngestRun, Source
from retrovue.errors import NotFoundError, UsageError
from retrovue.model.time import as_utc


def source_times(conn: Connection) -> dict[uuid.UUID, tuple]:
    """id -> (created_at, updated_at)."""
    return {
        r.id: (r.created_at, r.updated_at)
        for r in conn.execute(select(Source.id, Source.created_at, Source.updated_at))
    }


def collection_times(conn: Connection) -> dict[uuid.UUID, tuple]:
    """id -> (last_ingest_at, created_at, updated_at)."""
    rows = conn.execute(
        select(
            Collection.id, Collection.last_ingest_at, Collection.created_at, Collection.updated_at
        )
    )
    return {r.id: (r.last_ingest_at, r.created_at, r.updated_at) for r in rows}


def asset_counts(conn: Connection) -> dict[uuid.UUID, tuple[int, int]]:
    """collection id -> (assets, missing assets)."""
    rows = conn.execute(
        select(Asset.collection_id, func.count(), func.count(Asset.missing_since)).group_by(
            Asset.collection_id
        )
    )
    return {cid: (int(total), int(missing)) for cid, total, missing in rows}


def last_run(conn: Connection, collection_id: uuid.UUID):
    return conn.execute(
        select(IngestRun.__table__)
        .where(IngestRun.collection_id == collection_id)
        .order_by(IngestRun.started_at.desc(), IngestRun.id.desc())
        .limit(1)
    ).first()


def find_asset(conn: Connection, selector: str, decide: Callable):
    """The asset row: UUID id, then exact source_uri, then exact canonical_uri."""
    if not selector or not selector.strip():
        raise UsageError("Invalid asset ID format. Expected UUID, source URI, or canonical URI.")
    wanted = _as_uuid(selector)
    steps = ([Asset.id == wanted] if wanted is not None else []) + [
        Asset.source_uri == selector,
        Asset.canonical_uri == selector,
    ]
    for condition in steps:
        rows = conn.execute(select(Asset.__table__).where(condition).order_by(Asset.id)).all()
        if rows:
            return decide(
                rows,
                selector,
                "asset",
                lambda r: (str(r.id), r.title or "", r.source_uri, r.canonical_uri),
            )
    raise NotFoundError(f"Asset '{selector}' not found")


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except (ValueError, AttributeError):
        return None


def assets_written_at(conn: Connection, collection_id: uuid.UUID, started: datetime):
    """The assets a run wrote (created, updated, marked missing or back): the run stamps
    ``updated_at`` with its start time."""
    return conn.execute(
        select(
            Asset.id,
            Asset.source_uri,
            Asset.canonical_uri,
            Asset.change_token,
            Asset.state,
            Asset.approved_for_broadcast,
        )
        .where(Asset.collection_id == collection_id, stamped(conn, Asset.updated_at, started))
        .order_by(Asset.source_uri)
    ).all()


def stamped(conn: Connection, column, when: datetime):
    """``column == when`` on both backends.

    SQLite keeps timestamps as text, and two spellings of the same instant reach it: SQLAlchemy's
    (``2024-05-01 10:00:00.000000``) and the driver's own, which the bulk insert of new assets
    uses (``2024-05-01 10:00:00+00:00``).  Compared as a datetime, the second never matched, so
    the text is compared with both."""
    if conn.dialect.name != "sqlite":
        return column == when
    utc = as_utc(when)
    processor = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    spellings = {utc.isoformat(" ")} | ({processor(utc)} if processor else set())
    return type_coerce(column, String).in_(sorted(spellings))
