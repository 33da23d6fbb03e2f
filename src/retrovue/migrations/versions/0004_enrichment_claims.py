"""enrichment claims: the leases of `retrovue worker`

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 15:30:00.000000

``enrichment_claims``: one row per asset a worker is enriching, with the worker's id and the
time its lease runs out.  Only assets in flight have a row (a worker deletes its claims when it
commits or lets go), so the table stays small and reading a collection's progress is cheap.  The
ledger (``asset_enrichments``) stays what decides whether an asset is still to enrich; a claim
only says who is on it now.  SQLite gets the table too (one schema everywhere), though workers
refuse to run there.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrichment_claims",
        sa.Column("asset_id", sa.Uuid(), nullable=False),
        sa.Column("collection_id", sa.Uuid(), nullable=False),
        sa.Column("worker", sa.String(length=128), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name=op.f("fk_enrichment_claims_asset_id_assets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name=op.f("fk_enrichment_claims_collection_id_collections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_enrichment_claims")),
    )
    op.create_index(
        op.f("ix_enrichment_claims_collection_id"),
        "enrichment_claims",
        ["collection_id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_enrichment_claims_collection_id"), table_name="enrichment_claims")
    op.drop_table("enrichment_claims")
