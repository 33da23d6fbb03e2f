"""watch claims: which `retrovue watch` watches which source

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 18:10:00.000000

``watch_claims``: one row per source a running watch watches, with who it is (host, pid, since
when) and the time its lease runs out.  A second watch of the same source is refused at start
naming the holder; a watch that died without letting go stops blocking once its lease expires
(at once on its own host, where its pid is seen gone).  The key is the source's declared name,
case-folded: two configs declaring the same name declare the same source, and the row exists
before the first reconcile has created the source.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watch_claims",
        sa.Column("source_key", sa.String(length=255), nullable=False),
        sa.Column("source_name", sa.String(length=255), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_key", name=op.f("pk_watch_claims")),
    )


def downgrade() -> None:
    op.drop_table("watch_claims")
