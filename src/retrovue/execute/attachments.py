"""Write a source's or a collection's enricher attachments (the ``SetEnrichers`` action)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from retrovue.database.tables import EnricherAttachment
from retrovue.model.enrichment import EnricherSpec


def set_attachments(
    conn: Connection,
    *,
    source_id: uuid.UUID | None,
    collection_id: uuid.UUID | None,
    specs: tuple[EnricherSpec, ...],
    now: datetime,
) -> None:
    """Make the owner's attachments exactly ``specs``, keeping the rows of types that stay (their
    id and created_at), so an unchanged attachment is never rewritten."""
    owner = (
        EnricherAttachment.c.source_id == source_id
        if collection_id is None
        else EnricherAttachment.c.collection_id == collection_id
    )
    stored = {
        row.enricher_type: row
        for row in conn.execute(
            select(
                EnricherAttachment.c.id,
                EnricherAttachment.c.enricher_type,
                EnricherAttachment.c.priority,
                EnricherAttachment.c.params,
            ).where(owner)
        )
    }
    wanted = {spec.type: spec for spec in specs}
    gone = [row.id for type_id, row in stored.items() if type_id not in wanted]
    if gone:
        conn.execute(delete(EnricherAttachment).where(EnricherAttachment.c.id.in_(gone)))
    for type_id, spec in wanted.items():
        row = stored.get(type_id)
        if row is None:
            conn.execute(
                insert(EnricherAttachment).values(
                    id=uuid.uuid4(),
                    source_id=source_id if collection_id is None else None,
                    collection_id=collection_id,
                    enricher_type=type_id,
                    priority=spec.priority,
                    params=dict(spec.params) or None,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif row.priority != spec.priority or dict(row.params or {}) != dict(spec.params):
            conn.execute(
                update(EnricherAttachment)
                .where(EnricherAttachment.c.id == row.id)
                .values(priority=spec.priority, params=dict(spec.params) or None, updated_at=now)
            )
