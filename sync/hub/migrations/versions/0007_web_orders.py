"""Web and app orders earn, burn, and are cancelled or returned (issue 15 item 2).

``orders`` gains the store the order's points are attributed to (``store_id``: the pick-up or selling store, or
``web``), what the hub priced (``points_earned``, ``points_redeemed``, ``paid_cents``), the coupons it redeemed
(``coupons``, a JSON list) and ``cancelled_at``; ``order_returns`` holds each return (idempotent by
``(order_id, return_id)``) with the units per line and what it reversed. Orders recorded before this revision
keep zeros: they earned nothing then, and a return of one reverses nothing.

Revision ID: web_orders
Revises: member_api
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "web_orders"
down_revision = "member_api"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("store_id", sa.Text(), nullable=False, server_default="web"))
    for name in ("points_earned", "points_redeemed", "paid_cents"):
        op.add_column("orders", sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
    op.add_column("orders", sa.Column("coupons", sa.Text(), nullable=False, server_default="[]"))
    op.add_column("orders", sa.Column("cancelled_at", sa.Text(), nullable=True))
    op.create_table(
        "order_returns",
        sa.Column("order_id", sa.Text(), nullable=False), sa.Column("return_id", sa.Text(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("points_reversed", sa.BigInteger(), nullable=False),
        sa.Column("points_refunded", sa.BigInteger(), nullable=False),
        sa.Column("refund_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "return_id"),
    )


def downgrade() -> None:
    op.drop_table("order_returns")
    with op.batch_alter_table("orders") as batch:
        for name in ("cancelled_at", "coupons", "paid_cents", "points_redeemed", "points_earned", "store_id"):
            batch.drop_column(name)
