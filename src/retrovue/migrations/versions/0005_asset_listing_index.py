"""an index in the asset listing's order

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 15:45:00.000000

Asset listings (``asset list``, ``serve``'s pages and /api/v1/assets) read one collection's assets
in (canonical_uri, id) order from a keyset cursor.  Without an index in that order every page
sorted the whole collection: 130 ms of SQLite's time per page at 100,000 assets, and a page
cache filled with the collection on each connection of a server.  With it a page reads its
rows and no more, the first as fast as the last.

``ix_assets_collection_facts`` covers what a collection's page counts (states, missing, the
duration and loudness histograms): one index-only scan instead of a read of every row.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


FACTS = ["collection_id", "state", "missing_since", "duration_ms", "loudness_lufs"]


def upgrade() -> None:
    op.create_index(
        "ix_assets_collection_listing", "assets", ["collection_id", "canonical_uri", "id"]
    )
    op.create_index("ix_assets_collection_facts", "assets", FACTS)


def downgrade() -> None:
    op.drop_index("ix_assets_collection_facts", table_name="assets")
    op.drop_index("ix_assets_collection_listing", table_name="assets")
