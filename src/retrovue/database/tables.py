"""The catalogue's tables.  Column names follow the original RetroVue schema.

Core ``Table`` objects, not ORM classes: nothing here maps rows to objects, and declarative
models cost every database command ~70 ms of imports (``sqlalchemy.orm`` and evaluating
``Mapped[...]`` annotations).

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
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)

from retrovue.model.enums import AssetState, SourceOrigin

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


metadata = MetaData(naming_convention=NAMING)


Timestamp = DateTime(timezone=True)


Source = Table(
    "sources",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("external_id", String(255), unique=True, nullable=False),
    Column("name", String(255), nullable=False),
    Column("type", String(50), nullable=False),
    Column("config", JSON),
    # "config" when created by apply from retrovue.yaml, "cli" when created imperatively (prune)
    Column("origin", String(16), default=SourceOrigin.CLI.value, nullable=False),
    Column("created_at", Timestamp, default=utcnow, nullable=False),
    Column("updated_at", Timestamp, default=utcnow, nullable=False),
)


Collection = Table(
    "collections",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column(
        "source_id", Uuid, ForeignKey("sources.id", ondelete="CASCADE"), index=True, nullable=False
    ),
    Column("external_id", String(255), nullable=False),
    Column("name", String(255), nullable=False),
    Column("sync_enabled", Boolean, default=False, nullable=False),
    Column("ingestible", Boolean, default=False, nullable=False),
    Column("ingestible_reason", Text),
    # upstream locations (a media server's library roots; the folder for filesystem)
    Column("locations", JSON),
    Column("config", JSON),
    Column("last_ingest_at", Timestamp),
    Column("created_at", Timestamp, default=utcnow, nullable=False),
    Column("updated_at", Timestamp, default=utcnow, nullable=False),
    UniqueConstraint("source_id", "external_id", name="uq_collections_source_external"),
)


PathMapping = Table(
    "path_mappings",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column(
        "collection_id",
        Uuid,
        ForeignKey("collections.id", ondelete="CASCADE"),
        index=True,
        nullable=False,
    ),
    # the column keeps the seeds' name (DESIGN §8); code reads it as the importer-neutral key
    Column("plex_path", String(1024), nullable=False, key="upstream_path"),
    Column("local_path", String(1024)),
    Column("created_at", Timestamp, default=utcnow, nullable=False),
    Column("updated_at", Timestamp, default=utcnow, nullable=False),
)


Asset = Table(
    "assets",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("collection_id", Uuid, ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
    Column("source_uri", Text, nullable=False),
    Column("canonical_uri", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("title", Text),
    Column("series_title", Text),
    Column("season_number", Integer),
    Column("episode_number", Integer),
    Column("year", Integer),
    Column("duration_ms", BigInteger),
    Column("size", BigInteger),
    Column("change_token", String(255), nullable=False),
    Column("state", String(16), nullable=False),
    Column("approved_for_broadcast", Boolean, nullable=False),
    Column("missing_since", Timestamp),
    Column("metadata", JSON),
    # facts enrichers read from the media (migration 0003); scheduling queries them
    Column("container", String(64)),
    Column("video_codec", String(64)),
    Column("audio_codec", String(64)),
    Column("width", Integer),
    Column("height", Integer),
    Column("bit_rate", BigInteger),
    Column("loudness_lufs", Float),
    Column("discovered_at", Timestamp, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    UniqueConstraint("collection_id", "source_uri", name="uq_assets_collection_source_uri"),
    # the listing order (asset list, serve): a keyset page reads its rows, never sorts them all
    Index("ix_assets_collection_listing", "collection_id", "canonical_uri", "id"),
    # what a collection's page counts and plots, read from the index alone
    Index(
        "ix_assets_collection_facts",
        "collection_id",
        "state",
        "missing_since",
        "duration_ms",
        "loudness_lufs",
    ),
    CheckConstraint(
        f"approved_for_broadcast = false OR state = '{AssetState.READY}'",
        name="approved_implies_ready",
    ),
)


# An enricher type attached to a source (all its collections) or to one collection.
EnricherAttachment = Table(
    "enricher_attachments",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("source_id", Uuid, ForeignKey("sources.id", ondelete="CASCADE")),
    Column("collection_id", Uuid, ForeignKey("collections.id", ondelete="CASCADE")),
    Column("enricher_type", String(64), nullable=False),
    Column("priority", Integer, default=0, nullable=False),
    Column("params", JSON),
    Column("created_at", Timestamp, default=utcnow, nullable=False),
    Column("updated_at", Timestamp, default=utcnow, nullable=False),
    CheckConstraint("(source_id IS NULL) <> (collection_id IS NULL)", name="one_owner"),
    UniqueConstraint("source_id", "enricher_type", name="uq_enricher_attachments_source"),
    UniqueConstraint("collection_id", "enricher_type", name="uq_enricher_attachments_collection"),
)


# The last enrichment attempt of one asset by one enricher type: for which change token and
# version, and its error if it failed. The facts are in ``assets.metadata["enrichers"]``. A row
# always holds its asset's current change token: ingest deletes a changed asset's rows.
AssetEnrichment = Table(
    "asset_enrichments",
    metadata,
    Column("asset_id", Uuid, ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column("enricher_type", String(64), primary_key=True),
    # the asset's collection (assets never move): the counts that prove nothing is pending
    Column("collection_id", Uuid, ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
    Column("version", String(64), nullable=False),
    Column("change_token", String(255), nullable=False),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("enriched_at", Timestamp, nullable=False),
    Index("ix_asset_enrichments_collection", "collection_id", "enricher_type", "error_code"),
)


# A worker's hold on one asset's enrichment (``retrovue worker``, PostgreSQL): taken with
# ``FOR UPDATE SKIP LOCKED`` on the asset row, kept while ``lease_until`` is renewed, deleted when
# the worker commits its results or lets go.  A row whose lease has passed is anybody's: the
# worker died or was cut off, and the asset is claimed again.  A table of its own, not columns
# on ``assets``: only assets in flight have a row, so counting a collection's claims reads a
# handful of rows, and the wide ``assets`` table keeps only the indexes its ingest needs.
EnrichmentClaim = Table(
    "enrichment_claims",
    metadata,
    Column("asset_id", Uuid, ForeignKey("assets.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "collection_id",
        Uuid,
        ForeignKey("collections.id", ondelete="CASCADE"),
        index=True,
        nullable=False,
    ),
    # "<host>:<pid>:<random>", also the worker's PostgreSQL application_name
    Column("worker", String(128), nullable=False),
    Column("lease_until", Timestamp, nullable=False),
    Column("claimed_at", Timestamp, nullable=False),
)


IngestRun = Table(
    "ingest_runs",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("collection_id", Uuid, ForeignKey("collections.id", ondelete="CASCADE"), index=True),
    Column(
        "trigger", String(32), nullable=False
    ),  # apply | source-ingest | collection-ingest | watch-*
    Column("scope", String(16), nullable=False),  # collection | title | season | episode
    Column("scope_title", Text),
    Column("scope_season", Integer),
    Column("scope_episode", Integer),
    Column("status", String(16), nullable=False),  # ok | failed | interrupted
    Column("counts", JSON),
    Column("error", Text),
    Column("started_at", Timestamp, nullable=False),
    Column("finished_at", Timestamp),
)


ApplyLock = Table(
    "apply_locks",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("command", Text, nullable=False),
    Column("started_at", Timestamp, nullable=False),
)


# One row per source a running `retrovue watch` watches (execute/watch_claims.py): a second
# watch of it is refused while the lease runs.
WatchClaim = Table(
    "watch_claims",
    metadata,
    Column("source_key", String(255), primary_key=True),  # the declared name, case-folded
    Column("source_name", String(255), nullable=False),
    Column("token", String(32), nullable=False),  # this watch's run: tells it from a restart
    Column("holder", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("command", Text, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("lease_until", Timestamp, nullable=False),
)


# Small named values of the database itself (its key for saved-plan digests).
Setting = Table(
    "settings",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


# Written by the playout side; present here so deletes of aired assets can be refused.
PlaylogEvent = Table(
    "playlog_events",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("asset_id", Uuid, ForeignKey("assets.id"), index=True, nullable=False),
    Column("channel", String(255)),
    Column("started_at", Timestamp, default=utcnow, nullable=False),
)


# Written by the playout side; present here so deletes of aired assets can be refused.
AsRunLog = Table(
    "as_run_log",
    metadata,
    Column("id", Uuid, primary_key=True, default=uuid.uuid4),
    Column("asset_id", Uuid, ForeignKey("assets.id"), index=True, nullable=False),
    Column("channel", String(255)),
    Column("aired_at", Timestamp, default=utcnow, nullable=False),
)
