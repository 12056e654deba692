"""The local SQLite database: connection settings and versioned migrations."""

from edge.db.connection import SchemaTooNewError, open_database
from edge.db.migrations import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SchemaTooNewError", "open_database"]
