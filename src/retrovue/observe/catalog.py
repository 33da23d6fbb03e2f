"""Read-model extras the snapshot does not carry: timestamps, grouped counts and runs.

Each is one query whatever the catalogue's size (never one per row).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, String, func, select, type_coerce

from retrovue.database.tables import Asset, Collection, IngestRun, Source
from retrovue.errors import NotFoundError, UsageError
from retrovue.model.time import as_utc


def source_times(conn: Connection) -> dict[uuid.UUID, tuple]:
    """id -> (created_at, updated_at)."""
    return {
        r.id: (r.created_at, r.updated_at)
        for r in conn.execute(select(Source.c.id, Source.c.created_at, Source.c.updated_at))
    }


def collection_times(conn: Connection) -> dict[uuid.UUID, tuple]:
    """id -> (last_ingest_at, created_at, updated_at)."""
    rows = conn.execute(
        select(
            Collection.c.id,
            Collection.c.last_ingest_at,
            Collection.c.created_at,
            Collection.c.updated_at,
        )
    )
    return {r.id: (r.last_ingest_at, r.created_at, r.updated_at) for r in rows}


def asset_counts(conn: Connection) -> dict[uuid.UUID, tuple[int, int]]:
    """collection id -> (assets, missing assets)."""
    rows = conn.execute(
        select(Asset.c.collection_id, func.count(), func.count(Asset.c.missing_since)).group_by(
            Asset.c.collection_id
        )
    )
    return {cid: (int(total), int(missing)) for cid, total, missing in rows}


def last_run(conn: Connection, collection_id: uuid.UUID):
    return conn.execute(
        select(IngestRun)
        .where(IngestRun.c.collection_id == collection_id)
        .order_by(IngestRun.c.started_at.desc(), IngestRun.c.id.desc())
        .limit(1)
    ).first()


def find_asset(conn: Connection, selector: str, decide: Callable):
    """The asset row: UUID id, then exact source_uri, then exact canonical_uri."""
    if not selector or not selector.strip():
        raise UsageError("Invalid asset ID format. Expected UUID, source URI, or canonical URI.")
    wanted = _as_uuid(selector)
    steps = ([Asset.c.id == wanted] if wanted is not None else []) + [
        Asset.c.source_uri == selector,
        Asset.c.canonical_uri == selector,
    ]
    for condition in steps:
        rows = conn.execute(select(Asset).where(condition).order_by(Asset.c.id)).all()
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
            Asset.c.id,
            Asset.c.source_uri,
            Asset.c.canonical_uri,
            Asset.c.change_token,
            Asset.c.state,
            Asset.c.approved_for_broadcast,
        )
        .where(Asset.c.collection_id == collection_id, stamped(conn, Asset.c.updated_at, started))
        .order_by(Asset.c.source_uri)
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
