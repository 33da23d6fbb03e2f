"""One source's row, read by the commands that change it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, select

from retrovue.database.tables import Source


class StoredSource(NamedTuple):
    name: str
    config: dict
    updated_at: datetime


def source_updated_at(conn: Connection, source_id: uuid.UUID) -> datetime | None:
    """None when the source is gone."""
    return conn.execute(
        select(Source.c.updated_at).where(Source.c.id == source_id)
    ).scalar_one_or_none()


def stored_source(conn: Connection, source_id: uuid.UUID) -> StoredSource:
    row = conn.execute(
        select(Source.c.name, Source.c.config, Source.c.updated_at).where(Source.c.id == source_id)
    ).one()
    return StoredSource(row.name, dict(row.config or {}), row.updated_at)
