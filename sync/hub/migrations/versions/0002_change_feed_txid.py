"""The change feed without a global lock: each change row records its writing transaction.

``changes.txid`` is ``pg_current_xact_id()`` of the transaction that wrote the row on PostgreSQL (0 on SQLite,
and 0 for every row written before this revision); pulls read in ``(txid, version)`` order and only below the
oldest running transaction (docs/sync-protocol.md, "Change feed").

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("changes", sa.Column("txid", sa.BigInteger(), nullable=False, server_default="0"))
    op.drop_index("changes_store", table_name="changes")
    op.create_index("changes_feed", "changes", ["txid", "version"])
    op.create_index("changes_store_feed", "changes", ["store_id", "txid", "version"])
    op.execute("DELETE FROM config WHERE key = 'schema_version'")  # Alembic's revision is the version now


def downgrade() -> None:
    op.drop_index("changes_store_feed", table_name="changes")
    op.drop_index("changes_feed", table_name="changes")
    op.create_index("changes_store", "changes", ["store_id", "version"])
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("txid")
    op.execute("INSERT INTO config (key, value) VALUES ('schema_version', '1') ON CONFLICT DO NOTHING")
