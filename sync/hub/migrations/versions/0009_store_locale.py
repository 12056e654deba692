"""A store's locale, currency and time zone live at the hub and reach its tills with the store (change kind
``store``); stores from before this revision keep ``NULL`` (their tills use their own settings).

Revision ID: store_locale
Revises: member_lookup
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "store_locale"
down_revision = "member_lookup"
branch_labels = None
depends_on = None

COLUMNS = ("locale", "currency", "timezone")


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("stores", sa.Column(name, sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stores") as batch:
        for name in COLUMNS:
            batch.drop_column(name)
