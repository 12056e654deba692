"""Members recognised at any till (issue 15 item 5): every member look-up logged (``member_lookups``, also the
per-device rate limiter's memory), guest receipts' claim codes and their one claim (``receipt_claims``), and
indexes for finding a member by contact hash.

Revision ID: member_lookup
Revises: web_orders
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "member_lookup"
down_revision = "web_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "member_lookups",
        sa.Column("id", serial, sa.Identity(always=True), primary_key=True),
        sa.Column("device_id", sa.Text(), nullable=False), sa.Column("store_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False), sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text()), sa.Column("at", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("member_lookups_device", "member_lookups", ["device_id", "at"])
    op.create_table(
        "receipt_claims",
        sa.Column("code", sa.Text(), primary_key=True),
        sa.Column("sale_id", sa.Text(), nullable=False, unique=True),
        sa.Column("store_id", sa.Text(), nullable=False), sa.Column("device_id", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.Text(), nullable=False),
        sa.Column("claimed_at", sa.Text()), sa.Column("customer_id", sa.Text()), sa.Column("points", sa.BigInteger()),
        sa.Column("channel", sa.Text()),
    )
    op.create_index("customers_phone_hash", "customers", ["phone_hash"])
    op.create_index("customers_email_hash", "customers", ["email_hash"])


def downgrade() -> None:
    op.drop_index("customers_email_hash", "customers")
    op.drop_index("customers_phone_hash", "customers")
    op.drop_table("receipt_claims")
    op.drop_index("member_lookups_device", "member_lookups")
    op.drop_table("member_lookups")
