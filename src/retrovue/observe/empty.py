"""A database that does not exist yet, as planning sees it: empty, at the revision apply would
create.  It answers what ``DbReader`` answers, so a plan made before the first apply is the
plan apply makes on the new database (a saved one stays fresh across that creation)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from retrovue.fingerprint import AssetDigest, digest_value
from retrovue.model.snapshots import DbSnapshot, DbState
from retrovue.model.stored_index import StoredIndex
from retrovue.observe.reader import AssetTally


@dataclass(frozen=True)
class EmptyReader:
    #: the revision the database will have once apply has created and migrated it
    schema_revision: str

    def snapshot(self) -> DbSnapshot:
        return DbSnapshot(())

    def asset_index(
        self,
        collection_id: uuid.UUID | None,
        folders: tuple[str, ...] = (),
        *,
        fingerprint: bool = False,
    ) -> tuple[StoredIndex, str | None]:
        return StoredIndex(), AssetDigest().hexdigest() if fingerprint else None

    def asset_fingerprint(self, collection_id: uuid.UUID | None) -> str:
        return AssetDigest().hexdigest()

    def stored_paths(
        self, collection_id: uuid.UUID | None, ids: list[uuid.UUID | str]
    ) -> dict[uuid.UUID | str, str]:
        return {}

    def present_count(self, collection_id: uuid.UUID | None) -> int:
        return 0

    def enrich_pending(
        self, collection_id: uuid.UUID, type_id: str, *, force: bool, retry_failed: bool
    ) -> set[str]:
        return set()

    def left_enriching(self, collection_id: uuid.UUID) -> int:
        return 0

    def tally_collections(self, collection_ids: list[uuid.UUID]) -> AssetTally:
        return AssetTally(0, 0)

    def db_state(self) -> DbState:
        # what observe.state.observe_db_state reads from a migrated database with no sources
        return DbState(self.schema_revision, digest_value({}), {})
