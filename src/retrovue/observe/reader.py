"""The database as planning sees it: every read a plan needs, over one open connection.

Planning code receives a ``DbReader`` and never writes SQL itself, so ``retrovue.plan`` stays
free of the ORM and of SQLAlchemy.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection

from retrovue.fingerprint import AssetDigest
from retrovue.model.snapshots import DbSnapshot
from retrovue.model.stored_index import StoredIndex
from retrovue.observe import aired, db, enrichment


@dataclass(frozen=True)
class AssetTally:
    assets: int
    aired: int


@dataclass
class DbReader:
    conn: Connection

    def snapshot(self) -> DbSnapshot:
        return db.load_snapshot(self.conn)

    def asset_index(
        self,
        collection_id: uuid.UUID | None,
        folders: tuple[str, ...] = (),
        *,
        fingerprint: bool = False,
    ) -> tuple[StoredIndex, str | None]:
        """The stored index of a collection (empty for one not stored yet), only the assets at
        or under ``folders`` when given (a folder scope), and with ``fingerprint`` the digest
        of the rows it was read from (``observe.db.load_asset_index``)."""
        if collection_id is None:
            return StoredIndex(), AssetDigest().hexdigest() if fingerprint else None
        return db.load_asset_index(self.conn, collection_id, folders, fingerprint=fingerprint)

    def asset_fingerprint(self, collection_id: uuid.UUID | None) -> str:
        """The digest of a whole collection's stored rows, read in order and never held (a
        folder-scoped plan's staleness check is of the whole collection)."""
        if collection_id is None:
            return AssetDigest().hexdigest()
        return db.asset_fingerprint(self.conn, collection_id)

    def present_count(self, collection_id: uuid.UUID | None) -> int:
        """How many of a stored collection's assets are present (0 for one not stored yet)."""
        if collection_id is None:
            return 0
        return db.count_present(self.conn, collection_id)

    def stored_paths(
        self, collection_id: uuid.UUID | None, ids: list[uuid.UUID | str]
    ) -> dict[uuid.UUID | str, str]:
        """``id -> canonical_uri`` of these stored assets (a ``--detail`` plan names them)."""
        if collection_id is None:
            return {}
        return db.stored_paths(self.conn, collection_id, ids)

    def enrich_pending(
        self, collection_id: uuid.UUID, type_id: str, *, force: bool, retry_failed: bool
    ) -> set[str]:
        """Ids (as text) of the stored assets ``type_id`` would enrich (see observe.enrichment)."""
        return enrichment.pending_ids(
            self.conn, collection_id, type_id, force=force, retry_failed=retry_failed
        )

    def left_enriching(self, collection_id: uuid.UUID) -> int:
        """Assets a killed run left ``enriching`` (see observe.enrichment.count_enriching)."""
        return enrichment.count_enriching(self.conn, collection_id)

    def tally_collections(self, collection_ids: list[uuid.UUID]) -> AssetTally:
        """How many assets these collections hold, and how many of them have aired."""
        if not collection_ids:
            return AssetTally(0, 0)
        total = aired.asset_count(self.conn, collection_ids)
        return AssetTally(total, aired.aired_count(self.conn, collection_ids) if total else 0)

    def db_state(self):
        """Fingerprints of everything a plan reads, for saved-plan staleness checks."""
        from retrovue.observe.state import observe_db_state

        return observe_db_state(self.conn)
