"""Ledger rows name their source: ``ledger.source`` (``sale:<id>``, ``order:<id>``, ``bonus:<kind>``,
``reward:<id>``, ``expiry:<lot>``, ``admin:<who>``); rows from before this revision keep ``NULL``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ledger", sa.Column("source", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ledger") as batch:
        batch.drop_column("source")
