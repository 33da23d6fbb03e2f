"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 17:33:18.492238
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apply_locks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_apply_locks")),
    )
    op.create_table(
        "sources",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("config", sa.JSON(), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sources")),
        sa.UniqueConstraint("external_id", name=op.f("uq_sources_external_id")),
    )
    op.create_table(
        "collections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("sync_enabled", sa.Boolean(), nullable=False),
        sa.Column("ingestible", sa.Boolean(), nullable=False),
        sa.Column("ingestible_reason", sa.Text(), nullable=True),
        sa.Column("locations", sa.JSON(), nullable=True),
        sa.Column("config", sa.JSON(), nullable=True),
        sa.Column("last_ingest_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_collections_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
        sa.UniqueConstraint("source_id", "external_id", name="uq_collections_source_external"),
    )
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_collections_source_id"), ["source_id"], unique=False)

    op.create_table(
        "assets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("source_uri", sa.Text(), nullable=False),
        sa.Column("canonical_uri", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("series_title", sa.Text(), nullable=True),
        sa.Column("season_number", sa.Integer(), nullable=True),
        sa.Column("episode_number", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("change_token", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("approved_for_broadcast", sa.Boolean(), nullable=False),
        sa.Column("missing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("discovered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "approved_for_broadcast = false OR state = 'ready'",
            name=op.f("ck_assets_approved_implies_ready"),
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_assets_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("collection_id", "source_uri", name="uq_assets_collection_source_uri"),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("collection_id", sa.Uuid(), nullable=True),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_title", sa.Text(), nullable=True),
        sa.Column("scope_season", sa.Integer(), nullable=True),
        sa.Column("scope_episode", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_ingest_runs_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_runs")),
    )
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ingest_runs_collection_id"), ["collection_id"], unique=False
        )

    op.create_table(
        "path_mappings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("plex_path", sa.String(length=1024), nullable=False),
        sa.Column("local_path", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_path_mappings_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_path_mappings")),
    )
    with op.batch_alter_table("path_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_path_mappings_collection_id"), ["collection_id"], unique=False
        )

    op.create_table(
        "as_run_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=True),
        sa.Column("aired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_as_run_log_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_as_run_log")),
    )
    with op.batch_alter_table("as_run_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_as_run_log_asset_id"), ["asset_id"], unique=False)

    op.create_table(
        "playlog_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name=op.f("fk_playlog_events_asset_id_assets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlog_events")),
    )
    with op.batch_alter_table("playlog_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_playlog_events_asset_id"), ["asset_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("playlog_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_playlog_events_asset_id"))

    op.drop_table("playlog_events")
    with op.batch_alter_table("as_run_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_as_run_log_asset_id"))

    op.drop_table("as_run_log")
    with op.batch_alter_table("path_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_path_mappings_collection_id"))

    op.drop_table("path_mappings")
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_runs_collection_id"))

    op.drop_table("ingest_runs")
    op.drop_table("assets")
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_collections_source_id"))

    op.drop_table("collections")
    op.drop_table("sources")
    op.drop_table("apply_locks")
