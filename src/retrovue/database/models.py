"""The catalogue's tables.  Column names follow the original RetroVue schema.

Primary keys are client-generated UUIDs: with no server default to read back, bulk inserts never
need RETURNING, which measured 4–6× slower on PostgreSQL.  ``assets`` carries only the
indexes the ingest needs (primary key, and the identity ``(collection_id, source_uri)``): every
extra random-key B-tree halves the insert rate.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


Timestamp = DateTime(timezone=True)


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(50))
    config: Mapped[dict | None] = mapped_column(JSON)
    #: "config" when created by apply from retrovue.yaml, "cli" when created imperatively (prune)
    origin: Mapped[str] = mapped_column(String(16), default="cli")
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Collection(Base):
    __tablename__ = "collections"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_collections_source_external"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    source_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    sync_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    ingestible: Mapped[bool] = mapped_column(Boolean, default=False)
    ingestible_reason: Mapped[str | None] = mapped_column(Text)
    #: upstream locations (Plex section roots; the folder for filesystem)
    locations: Mapped[list | None] = mapped_column(JSON)
    config: Mapped[dict | None] = mapped_column(JSON)
    last_ingest_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class PathMapping(Base):
    __tablename__ = "path_mappings"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    plex_path: Mapped[str] = mapped_column(String(1024))
    local_path: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class Asset(Base):
    __tablename__ = "assets"
    __table_args__ = (
        UniqueConstraint("collection_id", "source_uri", name="uq_assets_collection_source_uri"),
        CheckConstraint(
            "approved_for_broadcast = false OR state = 'ready'", name="approved_implies_ready"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE")
    )
    source_uri: Mapped[str] = mapped_column(Text)
    canonical_uri: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(Text)
    series_title: Mapped[str | None] = mapped_column(Text)
    season_number: Mapped[int | None] = mapped_column(Integer)
    episode_number: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    size: Mapped[int | None] = mapped_column(BigInteger)
    change_token: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16))
    approved_for_broadcast: Mapped[bool] = mapped_column(Boolean)
    missing_since: Mapped[datetime | None] = mapped_column(Timestamp)
    metadata_: Mapped[dict | None] = mapped_column("metadata", JSON)
    #: facts enrichers read from the media (migration 0003); scheduling queries them
    container: Mapped[str | None] = mapped_column(String(64))
    video_codec: Mapped[str | None] = mapped_column(String(64))
    audio_codec: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    bit_rate: Mapped[int | None] = mapped_column(BigInteger)
    loudness_lufs: Mapped[float | None] = mapped_column(Float)
    discovered_at: Mapped[datetime] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp)
    updated_at: Mapped[datetime] = mapped_column(Timestamp)


class EnricherAttachment(Base):
    """An enricher type attached to a source (all its collections) or to one collection."""

    __tablename__ = "enricher_attachments"
    __table_args__ = (
        CheckConstraint("(source_id IS NULL) <> (collection_id IS NULL)", name="one_owner"),
        UniqueConstraint("source_id", "enricher_type", name="uq_enricher_attachments_source"),
        UniqueConstraint(
            "collection_id", "enricher_type", name="uq_enricher_attachments_collection"
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    source_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE")
    )
    collection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE")
    )
    enricher_type: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    params: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class AssetEnrichment(Base):
    """The last enrichment attempt of one asset by one enricher type: for which change token and
    version, and its error if it failed.  The facts are in ``assets.metadata["enrichers"]``.
    A row always holds its asset's current change token: ingest deletes a changed asset's rows."""

    __tablename__ = "asset_enrichments"
    __table_args__ = (
        Index("ix_asset_enrichments_collection", "collection_id", "enricher_type", "error_code"),
    )

    asset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True
    )
    enricher_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: the asset's collection (assets never move): the counts that prove nothing is pending
    collection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE")
    )
    version: Mapped[str] = mapped_column(String(64))
    change_token: Mapped[str] = mapped_column(String(255))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    enriched_at: Mapped[datetime] = mapped_column(Timestamp)


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    collection_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    trigger: Mapped[str] = mapped_column(String(32))  # apply | source-ingest | collection-ingest
    scope: Mapped[str] = mapped_column(String(16))  # collection | title | season | episode
    scope_title: Mapped[str | None] = mapped_column(Text)
    scope_season: Mapped[int | None] = mapped_column(Integer)
    scope_episode: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # ok | failed | interrupted
    counts: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)


class ApplyLock(Base):
    __tablename__ = "apply_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    command: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(Timestamp)


class Setting(Base):
    """Small named values of the database itself (its key for saved-plan digests)."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class PlaylogEvent(Base):
    """Written by the playout side; present here so deletes of aired assets can be refused."""

    __tablename__ = "playlog_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class AsRunLog(Base):
    """Written by the playout side; present here so deletes of aired assets can be refused."""

    __tablename__ = "as_run_log"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    asset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assets.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(255))
    aired_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
