"""settings table and the database key

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000

The key (32 random bytes, as hex) keys every digest a saved plan carries: the plan's own digest
and the fingerprints of secrets and stored state.  Made here, so every database has one from its
first migration on, and ``plan`` (which writes nothing) only ever reads it.
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: the settings row holding the key (``retrovue.observe.keys`` reads it)
KEY_NAME = "database_key"


def upgrade() -> None:
    settings = op.create_table(
        "settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_settings")),
    )
    op.bulk_insert(settings, [{"name": KEY_NAME, "value": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("settings")
