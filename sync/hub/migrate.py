"""Hub schema versions with Alembic (``sync/hub/migrations``): create, recognise, upgrade, refuse.

States of a database (``schema_state``):
- ``empty``: no hub tables; created at the newest revision when opened.
- ``v0.1``: made by store-edge 0.1 (hub tables, no ``alembic_version``); stamped ``0001`` and upgraded.
- ``behind``: an older Alembic revision; upgraded by ``store-edge hub migrate`` (on SQLite, the embedded
  single-process default, also automatically when the hub opens it).
- ``current``; ``newer``: a revision this code does not know (a newer store-edge wrote it): refused.

A migration runs in one transaction (DDL is transactional on both engines); on PostgreSQL it first takes a
transaction-scoped advisory lock, so hub processes starting together do not migrate twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from sync.hub.common import HubError
from sync.hub.db import POSTGRES, Database, open_database

MIGRATIONS = Path(__file__).parent / "migrations"
V0_1 = "0001"  # the revision that is the schema of store-edge 0.1
_MIGRATE_LOCK = 0x5EDC_0001


class SchemaError(HubError):
    """The database's schema cannot be used by this code; ``str()`` is one line saying what to do."""

    def __init__(self, message: str) -> None:
        super().__init__("schema", message, 503)


@dataclass(frozen=True)
class SchemaState:
    state: str  # empty | v0.1 | behind | current | newer
    revision: str | None
    head: str


def _config(conn: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if conn is not None:
        cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def schema_state(conn: Connection) -> SchemaState:
    """Where this database stands against the code's revisions."""
    head = head_revision()
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None:
        tables = set(inspect(conn).get_table_names())
        if {"changes", "events", "devices"} <= tables:
            return SchemaState("v0.1", None, head)
        return SchemaState("empty", None, head)
    if revision == head:
        return SchemaState("current", revision, head)
    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    return SchemaState("behind" if revision in known else "newer", revision, head)


def _newer(state: SchemaState) -> SchemaError:
    return SchemaError(f"the hub database is at schema revision {state.revision}, newer than this store-edge "
                       f"knows (newest {state.head}); upgrade store-edge before using this database")


def _upgrade(conn: Connection, state: SchemaState) -> None:
    if state.state == "v0.1":
        command.stamp(_config(conn), V0_1)
    command.upgrade(_config(conn), "head")


def upgrade(db: Database) -> tuple[SchemaState, SchemaState]:
    """Bring the database to the newest revision in place, data kept; returns (before, after).
    Raises ``SchemaError`` for a database newer than the code."""
    with db.write() as conn:
        if db.dialect == POSTGRES:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK})
        before = schema_state(conn)
        if before.state == "newer":
            raise _newer(before)
        if before.state != "current":
            _upgrade(conn, before)
        after = schema_state(conn)
    return before, after


def prepare(db: Database, *, auto_upgrade: bool | None = None) -> SchemaState:
    """Called when the hub opens a database: an empty one is created at the newest revision; an older one is
    upgraded when ``auto_upgrade`` (default: on SQLite only) or refused with the command to run."""
    if auto_upgrade is None:
        auto_upgrade = db.dialect != POSTGRES
    with db.read() as conn:
        state = schema_state(conn)
    if state.state == "current":
        return state
    if state.state == "newer":
        raise _newer(state)
    if state.state != "empty" and not auto_upgrade:
        was = "v0.1" if state.state == "v0.1" else f"revision {state.revision}"
        raise SchemaError(f"the hub database schema is {was}, this hub needs revision {state.head}: "
                          "run 'store-edge hub migrate --db ...' once, then start the hub again")
    return upgrade(db)[1]


def describe(state: SchemaState) -> str:
    return "v0.1 (before schema revisions)" if state.state == "v0.1" else (
        "empty" if state.state == "empty" else f"revision {state.revision}")


def migrate_command(target: str, out: TextIO, *, schema: str | None = None) -> int:
    """``store-edge hub migrate``: upgrade ``target`` in place and say from what to what (exit 0); then seal
    the stored secrets still in clear, or under an older key, with the operator key (``sync.hub.sealing``)."""
    from sync.hub import sealing

    sealer = sealing.sealer_from_env()
    db = open_database(target, schema=schema)
    try:
        before, after = upgrade(db)
        with db.write() as conn:
            sealed = sealing.reseal_all(conn, sealer) if sealer.active else 0
            clear = sealing.clear_count(conn)
    finally:
        db.close()
    if before.state == "current":
        print(f"the hub database is already at the newest schema (revision {after.revision})", file=out)
    else:
        print(f"hub database upgraded from {describe(before)} to revision {after.revision}", file=out)
    if sealed:
        print(f"{sealed} stored key(s) encrypted with hub key {sealer.current}", file=out)
    if clear:
        print(f"{clear} stored key(s) are unencrypted: {sealing.HOW_TO}", file=out)
    return 0
