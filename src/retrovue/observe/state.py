"""The database state a saved plan is made against, observed as fingerprints.

``plan --out`` records ``observe_db_state``; ``apply PLAN`` re-observes through a
``StateObserver`` under the apply lock, and ``retrovue.plan.saved`` compares the two (it runs no
SQL itself).

A source row's fingerprint covers its config, which may hold a token in clear: it is keyed with
the database's key, so the saved plan cannot be used to check guesses of that token offline.
Collection rows hold no secret, and the whole-state digest is over fingerprints, so those stay
plain digests (an empty database has the same state digest whether it exists yet or not).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from retrovue.database import revision
from retrovue.database.tables import Collection, PathMapping, Source
from retrovue.fingerprint import digest_value, keyed_digest_value
from retrovue.model.snapshots import CollectionFingerprint, DbState, SourceFingerprint
from retrovue.observe.db import asset_fingerprint
from retrovue.observe.keys import database_key


@dataclass(frozen=True)
class StateObserver:
    """What ``plan.saved.check_fresh`` re-observes, over one (locked) connection."""

    conn: Connection

    def db_state(self) -> DbState:
        return observe_db_state(self.conn)

    def asset_fingerprint(self, collection_id: uuid.UUID) -> str:
        return asset_fingerprint(self.conn, collection_id)

    def key(self) -> bytes:
        """The database's key (saved-plan digests and secret fingerprints); never shown."""
        return database_key(self.conn)


def observe_db_state(conn: Connection) -> DbState:
    """Four SELECTs whatever the catalogue's size.  ``updated_at``/``last_ingest_at`` are part
    of the fingerprint so that any apply or imperative ingest since the plan shows up, even one
    that ended up writing the same values (that is what makes a second apply of a plan fail)."""
    collections = _collection_fingerprints(conn, _mappings(conn))
    sources: dict[str, SourceFingerprint] = {}
    s = Source.c
    rows = conn.execute(
        select(s.id, s.external_id, s.name, s.type, s.config, s.origin, s.updated_at)
    ).all()
    key = database_key(conn) if rows else b""  # a database with no source needs no key yet
    for row in rows:
        sources[str(row.id)] = SourceFingerprint(
            row.name,
            keyed_digest_value(key, dict(row._mapping)),
            collections.get(row.id, {}),
            row.external_id,
        )
    whole = digest_value(
        {
            sid: [src.fingerprint, {e: cf.fingerprint for e, cf in src.collections.items()}]
            for sid, src in sources.items()
        }
    )
    return DbState(revision.current_revision(conn), whole, sources)


def _mappings(conn: Connection) -> dict[Any, list]:
    mappings: dict[Any, list] = defaultdict(list)
    for row in conn.execute(
        select(
            PathMapping.c.collection_id, PathMapping.c.upstream_path, PathMapping.c.local_path
        ).order_by(
            PathMapping.c.collection_id, PathMapping.c.upstream_path, PathMapping.c.local_path
        )
    ):
        mappings[row.collection_id].append([row.upstream_path, row.local_path])
    return mappings


def _collection_fingerprints(
    conn: Connection, mappings: dict[Any, list]
) -> dict[Any, dict[str, CollectionFingerprint]]:
    """source id -> external_id -> fingerprint of the collection row and its path mappings."""
    collections: dict[Any, dict[str, CollectionFingerprint]] = defaultdict(dict)
    c = Collection.c
    for row in conn.execute(
        select(
            c.id,
            c.source_id,
            c.external_id,
            c.name,
            c.sync_enabled,
            c.ingestible,
            c.ingestible_reason,
            c.locations,
            c.config,
            c.last_ingest_at,
            c.updated_at,
        )
    ):
        values = dict(row._mapping)
        values["path_mappings"] = mappings.get(row.id, [])
        collections[row.source_id][row.external_id] = CollectionFingerprint(
            row.name, digest_value(values)
        )
    return collections
