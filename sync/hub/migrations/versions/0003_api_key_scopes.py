"""API keys with scopes: ``api_keys.scopes`` (comma-separated ``orders``, ``sightings``, ``reports``).

Keys made before this revision keep what they were made for (``orders,sightings``); reading the cross-store
exceptions report needs a key created with ``--scope reports``.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("scopes", sa.Text(), nullable=False, server_default="orders,sightings"))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("scopes")
