"""Programme rules at work: point lots (expiry FIFO, pending period) and the tier review mark.

``point_lots``: one row per earn (``lot_id`` = the earning ledger entry), what is left of it after burns
(oldest lots first), when it may be spent and when it expires. Customers who hold points from before lots
existed get one opening lot each, expiring after the default 24 months. ``customers.tier_reviewed_at``: the
last downgrade review of the member (``edge.core.programme.ProgrammeRules.decide_tier``).

Revision ID: programme
Revises: 0004
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "programme"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from edge.core.programme import ProgrammeRules, iso

    op.create_table(
        "point_lots",
        sa.Column("lot_id", sa.Text(), primary_key=True),
        sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("earned_at", sa.Text(), nullable=False),
        sa.Column("available_at", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Text(), nullable=True),
        sa.Column("expired_at", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
    )
    op.create_index("point_lots_customer", "point_lots", ["customer_id", "earned_at"])
    op.create_index("point_lots_due", "point_lots", ["expires_at"])
    op.add_column("customers", sa.Column("tier_reviewed_at", sa.Text(), nullable=True))
    now = datetime.now(UTC)
    expires = ProgrammeRules().expires_at(now)
    op.get_bind().execute(sa.text(
        "INSERT INTO point_lots (lot_id, customer_id, points, remaining, earned_at, available_at, expires_at, "
        "source) SELECT 'opening:' || id, id, balance, balance, :now, :now, :expires, 'opening' FROM customers "
        "WHERE balance > 0"), {"now": iso(now), "expires": iso(expires) if expires else None})


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("tier_reviewed_at")
    op.drop_index("point_lots_due", "point_lots")
    op.drop_index("point_lots_customer", "point_lots")
    op.drop_table("point_lots")
