"""Alembic environment for the hub schema. ``sync.hub.migrate`` passes an open connection (in a transaction)
as ``config.attributes["connection"]``; there is no ``alembic.ini`` and no URL here."""

from __future__ import annotations

from alembic import context

from sync.hub.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
