"""enricher attachments, the enrichment ledger and the assets' probed columns

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 22:30:00.000000

``enricher_attachments``: which enricher types run on a source's collections (``source_id``) or
on one collection (``collection_id``), exactly one of the two, each type at most once per owner.

``asset_enrichments``: one row per asset and enricher type saying for which change token and
enricher version the last attempt was made and whether it failed.  The facts themselves live in
``assets.metadata`` under ``enrichers``; this narrow table is what plans and runs query to find the
assets still to enrich, in one indexed join, without reading any JSON.  A row always holds its
asset's current change token (ingest deletes the rows of a changed asset), so when a collection
has as many rows of a type as it has assets nothing is left to enrich: two index-only counts,
which keep a no-change plan from joining every asset (``collection_id`` is there for them).

The new ``assets`` columns are the facts scheduling queries (duration_ms already existed).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

HOT_COLUMNS = (
    ("container", sa.String(length=64)),
    ("video_codec", sa.String(length=64)),
    ("audio_codec", sa.String(length=64)),
    ("width", sa.Integer()),
    ("height", sa.Integer()),
    ("bit_rate", sa.BigInteger()),
    ("loudness_lufs", sa.Float()),
)


def upgrade() -> None:
    op.create_table(
        "enricher_attachments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("collection_id", sa.Uuid(), nullable=True),
        sa.Column("enricher_type", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(source_id IS NULL) <> (collection_id IS NULL)",
            name=op.f("ck_enricher_attachments_one_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_enricher_attachments_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_enricher_attachments_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enricher_attachments")),
        sa.UniqueConstraint("source_id", "enricher_type", name="uq_enricher_attachments_source"),
        sa.UniqueConstraint(
            "collection_id", "enricher_type", name="uq_enricher_attachments_collection"
        ),
    )
    op.create_table(
        "asset_enrichments",
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("enricher_type", sa.String(length=64), nullable=False),
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("change_token", sa.String(length=255), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("enriched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_asset_enrichments_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_asset_enrichments_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("asset_id", "enricher_type", name=op.f("pk_asset_enrichments")),
    )
    op.create_index(
        "ix_asset_enrichments_collection",
        "asset_enrichments",
        ["collection_id", "enricher_type", "error_code"],
    )
    for name, type_ in HOT_COLUMNS:
        op.add_column("assets", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("assets") as batch:
        for name, _type in HOT_COLUMNS:
            batch.drop_column(name)
    op.drop_index("ix_asset_enrichments_collection", table_name="asset_enrichments")
    op.drop_table("asset_enrichments")
    op.drop_table("enricher_attachments")
