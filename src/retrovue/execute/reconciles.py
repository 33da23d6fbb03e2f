"""A watch's record of each source's last reconcile (``settings``: ``reconcile:<source id>``).

A reconcile that finds nothing to change writes no ingest run, yet `retrovue status` must say
that the source was looked at and found in sync: this small row says when, why (the trigger)
and how it ended.  It is bookkeeping of the watch loop, like a run row, not a catalogue change.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert

from retrovue.database.tables import Setting
from retrovue.observe.status import RECONCILE_PREFIX


def record_reconcile(
    engine: Engine,
    source_id: uuid.UUID,
    trigger: str,
    outcome: str,
    error: str | None = None,
    at: datetime | None = None,
) -> None:
    name = f"{RECONCILE_PREFIX}{source_id}"
    value = json.dumps(
        {
            "at": (at or datetime.now(UTC)).isoformat(timespec="milliseconds"),
            "trigger": trigger,
            "outcome": outcome,
            "error": error,
        }
    )
    with engine.begin() as conn:
        conn.execute(delete(Setting).where(Setting.c.name == name))
        conn.execute(insert(Setting).values(name=name, value=value))
