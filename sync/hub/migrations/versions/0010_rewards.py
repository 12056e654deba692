"""The reward catalogue, reward claims and counted uses of offers with usage limits (issue 15 item 3).

Revision ID: rewards
Revises: store_locale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rewards"
down_revision = "store_locale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rewards",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False), sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False), sa.Column("gtin", sa.Text()),
        sa.Column("amount_cents", sa.BigInteger()), sa.Column("offer_id", sa.Text()),
        sa.Column("created_at", sa.Text(), nullable=False), sa.Column("updated_at", sa.Text(), nullable=False),
        sa.Column("retired_at", sa.Text()),
    )
    op.create_table(
        "reward_claims",
        sa.Column("claim_id", sa.Text(), primary_key=True),
        sa.Column("reward_id", sa.Text(), nullable=False), sa.Column("customer_id", sa.Text(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False), sa.Column("coupon_code", sa.Text()),
        sa.Column("channel", sa.Text(), nullable=False), sa.Column("store_id", sa.Text(), nullable=False),
        sa.Column("device_id", sa.Text(), nullable=False), sa.Column("claimed_at", sa.Text(), nullable=False),
        sa.Column("received_at", sa.Text(), nullable=False),
    )
    op.create_index("reward_claims_customer", "reward_claims", ["customer_id", "claimed_at"])
    op.create_table(
        "offer_redemptions",
        sa.Column("offer_id", sa.Text(), nullable=False), sa.Column("sale_id", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text()), sa.Column("store_id", sa.Text(), nullable=False),
        sa.Column("redeemed_at", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("offer_id", "sale_id"),
    )
    op.create_index("offer_redemptions_customer", "offer_redemptions", ["offer_id", "customer_id", "redeemed_at"])


def downgrade() -> None:
    op.drop_index("offer_redemptions_customer", "offer_redemptions")
    op.drop_table("offer_redemptions")
    op.drop_index("reward_claims_customer", "reward_claims")
    op.drop_table("reward_claims")
    op.drop_table("rewards")
