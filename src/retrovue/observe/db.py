"""Read the database into plain snapshots (style guideline 2): no ORM objects escape.

``load_snapshot`` costs three SELECTs whatever the catalogue's size; ``load_asset_index`` is one
3-column-ish SELECT per collection (limits.md §4: 10–16× cheaper than ORM entities).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict

from sqlalchemy import Connection, String, cast, select

from retrovue.database.models import Asset, Collection, PathMapping, Source
from retrovue.model.snapshots import DbCollection, DbSnapshot, DbSource, ExistingAsset
from retrovue.model.upstream import PathMappingSpec


def load_snapshot(conn: Connection) -> DbSnapshot:
    mappings: dict[uuid.UUID, list[PathMappingSpec]] = defaultdict(list)
    for row in conn.execute(
        select(PathMapping.collection_id, PathMapping.plex_path, PathMapping.local_path).order_by(
            PathMapping.collection_id, PathMapping.plex_path
        )
    ):
        mappings[row.collection_id].append(PathMappingSpec(row.plex_path, row.local_path))
    collections: dict[uuid.UUID, list[DbCollection]] = defaultdict(list)
    for row in conn.execute(select(Collection.__table__).order_by(Collection.name, Collection.id)):
        collections[row.source_id].append(
            DbCollection(
                id=row.id,
                source_id=row.source_id,
                external_id=row.external_id,
                name=row.name,
                sync_enabled=row.sync_enabled,
                ingestible=row.ingestible,
                ingestible_reason=row.ingestible_reason,
                locations=tuple(row.locations or ()),
                path_mappings=tuple(mappings.get(row.id, ())),
            )
        )
    sources = tuple(
        DbSource(
            id=row.id,
            external_id=row.external_id,
            name=row.name,
            type=row.type,
            config=dict(row.config or {}),
            origin=row.origin,
            collections=tuple(collections.get(row.id, ())),
        )
        for row in conn.execute(select(Source.__table__).order_by(Source.name, Source.id))
    )
    return DbSnapshot(sources)


def load_asset_index(conn: Connection, collection_id: uuid.UUID) -> dict[str, ExistingAsset]:
    """``source_uri -> ExistingAsset`` for one collection, in one SELECT of the comparison columns."""
    rows = conn.execute(
        select(
            Asset.source_uri,
            cast(Asset.id, String).label("id"),  # text on both backends: no UUID object per row
            Asset.change_token,
            Asset.canonical_uri,
            Asset.missing_since.is_not(None).label("missing"),
        ).where(Asset.collection_id == collection_id)
    ).all()
    return {row[0]: row for row in rows}


def as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)


def fingerprint_assets(index: dict[str, ExistingAsset]) -> str:
    """A digest of a collection's stored state, for saved-plan staleness checks."""
    digest = hashlib.sha256()
    for uri in sorted(index):
        a = index[uri]
        digest.update(f"{uri}\0{a.change_token}\0{a.canonical_uri}\0{a.missing}\n".encode())
    return "sha256:" + digest.hexdigest()[:32]
