"""The member API (issue 15 items 1, 7, 8): ``customers.external_id`` (unique: imports are idempotent by it),
the manual tier override (``tier_override``, ``_reason``, ``_until``, ``_by``), ``consent_history`` (every
consent with time, source and wording version), ``member_merges`` and ``member_aliases`` (a merged member's
id, card and contact hashes resolve to the survivor).

Revision ID: member_api
Revises: programme
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "member_api"
down_revision = "programme"
branch_labels = None
depends_on = None

_OVERRIDE = ("tier_override", "tier_override_reason", "tier_override_until", "tier_override_by")


def _serial() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("customers", sa.Column("external_id", sa.Text(), nullable=True))
    for name in _OVERRIDE:
        op.add_column("customers", sa.Column(name, sa.Text(), nullable=True))
    op.create_index("customers_external_id", "customers", ["external_id"], unique=True)
    op.create_table(
        "consent_history",
        sa.Column("id", _serial(), sa.Identity(always=True), primary_key=True),
        sa.Column("customer_id", sa.Text(), nullable=False), sa.Column("name", sa.Text(), nullable=False),
        sa.Column("granted", sa.Integer(), nullable=False), sa.Column("wording_version", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False), sa.Column("recorded_at", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("consent_history_customer", "consent_history", ["customer_id", "id"])
    op.create_table(
        "member_merges",
        sa.Column("absorbed_id", sa.Text(), primary_key=True), sa.Column("survivor_id", sa.Text(), nullable=False),
        sa.Column("points_moved", sa.BigInteger(), nullable=False), sa.Column("merged_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False), sa.Column("merged_at", sa.Text(), nullable=False),
    )
    op.create_index("member_merges_survivor", "member_merges", ["survivor_id"])
    op.create_table(
        "member_aliases",
        sa.Column("kind", sa.Text(), nullable=False), sa.Column("value", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Text(), nullable=False), sa.Column("since", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value"),
    )
    op.create_index("member_aliases_customer", "member_aliases", ["customer_id"])


def downgrade() -> None:
    for table in ("member_aliases", "member_merges", "consent_history"):
        op.drop_table(table)
    op.drop_index("customers_external_id", "customers")
    with op.batch_alter_table("customers") as batch:
        for name in ("external_id", *_OVERRIDE):
            batch.drop_column(name)
