"""The handler of ``SetApproval``: an operator approves assets for broadcast, or withdraws it.

Runs inside its source's unit.  Every asset named must belong to the collection the action names
(an id of another collection's asset is refused, not written), and approving needs ``ready``,
checked here under the lock because an ingest may have reset an asset since it was shown.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, select, update

from retrovue.database.tables import Asset
from retrovue.errors import NotApprovableError, NotFoundError
from retrovue.model.actions import SetApproval
from retrovue.model.enums import AssetState


def set_approval(
    conn: Connection, collection_id: uuid.UUID, action: SetApproval, now: datetime
) -> None:
    ids = list(dict.fromkeys(action.asset_ids))
    mine = (Asset.c.collection_id == collection_id, Asset.c.id.in_(ids))
    states = dict(conn.execute(select(Asset.c.id, Asset.c.state).where(*mine)).all())
    absent = [i for i in ids if i not in states]
    if absent:
        raise NotFoundError(
            f"Asset '{absent[0]}' not found in {action.collection}",
            context={"asset_ids": [str(i) for i in absent]},
        )
    not_ready = [i for i in ids if states[i] != AssetState.READY]
    if action.approved and not_ready:
        raise NotApprovableError(
            f"Asset '{not_ready[0]}' is {states[not_ready[0]]}, not ready: only a ready asset "
            "may be approved for broadcast",
            hint="Enrich the collection first; an asset is ready once every enricher succeeded.",
            context={"asset_ids": [str(i) for i in not_ready]},
        )
    conn.execute(
        update(Asset).where(*mine).values(approved_for_broadcast=action.approved, updated_at=now)
    )
