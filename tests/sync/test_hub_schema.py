"""Hub schema versions (Alembic): a hub database made by store-edge 0.1 is upgraded in place with its data,
``store-edge hub migrate`` says what it did, a database newer than the code is refused in one line, and the
declared tables (``sync/hub/tables.py``) match what the migrations build, on SQLite and PostgreSQL.

The fixtures ``fixtures/hub_v0_1_*.sql`` were dumped from hubs built and used by the 0.1 code (commit
fffa8fb: stores, an enrolled till, customers, a pushed sale with points, a pulled cursor, offers, a coupon, a
signing key, a tag, a store beacon, a queued notification); ``hub_v0_1.json`` holds the till's token and
cursor from that run.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from sync.hub import migrate
from sync.hub.db import open_database
from sync.hub.storage import HubStorage
from sync.hub.tables import metadata
from sync.ids import uuid7
from tests.support.cli import one_line, run_cli
from tests.support.hub import close_hub_storage, open_hub_storage, pg_dsn

FIXTURES = Path(__file__).parent / "fixtures"
META = json.loads((FIXTURES / "hub_v0_1.json").read_text())


@pytest.fixture(params=["sqlite", "postgres"])
def v0_1_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(engine, the ``--db`` target) of a hub database exactly as store-edge 0.1 left it."""
    if request.param == "sqlite":
        path = tmp_path / "hub.db"
        with sqlite3.connect(path) as con:
            con.executescript((FIXTURES / "hub_v0_1_sqlite.sql").read_text())
        con.close()
        yield "sqlite", str(path)
        return
    open_hub_storage("postgres", tmp_path).close()  # skips (or fails on CI) without a server, like the suite
    dsn, schema = pg_dsn(), f"hubv01_{uuid.uuid4().hex[:10]}"
    assert dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute((FIXTURES / "hub_v0_1_postgres.sql").read_text().replace("__SCHEMA__", schema).encode())
    sep = "&" if "?" in dsn else "?"
    yield "postgres", f"{dsn}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())


def _assert_v0_1_data_kept(storage: HubStorage, engine: str) -> None:
    meta = META[engine]
    assert storage.balance("ada") == meta["balance_ada"] == 540
    dev = storage.authenticate(meta["token"])  # the till enrolled under 0.1 still authenticates
    assert (dev.device_id, dev.store_id) == ("till-1", "s1")
    assert storage.check_api_key(meta["api_key"], "orders")  # a 0.1 key keeps orders and sightings ...
    assert storage.check_api_key(meta["api_key"], "sightings")
    assert not storage.check_api_key(meta["api_key"], "reports")  # ... the cross-store report needs a new key
    assert storage.count("events") == 3 and storage.count("ledger") == 2
    assert storage.get_config("webhook_url") == "http://127.0.0.1:9/hook"
    # the cursor the till got from the 0.1 hub: nothing it already has is sent again ...
    assert storage.changes(dev, meta["cursor"], 500).changes == []
    # ... and what changes next reaches it
    storage.upsert_products([{"gtin": "04006381333931", "name": "Notebook", "price_cents": 349,
                              "vat_rate_bp": 2100, "category": "stationery"}])
    page = storage.changes(dev, meta["cursor"], 500)
    assert [(c.kind, c.key) for c in page.changes] == [("product", "04006381333931")]
    assert storage.changes(dev, page.cursor, 500).changes == []
    # and pushing works on the upgraded schema
    event = {"id": uuid7(), "device_id": "till-1", "store_id": "s1", "seq": 4, "type": "ledger.earn",
             "payload": {"entry_id": uuid7(), "customer_id": "ada", "points": 5}, "device_time": "2026-11-30T10:00:00Z"}
    assert [r.status for r in storage.push(dev, [event])] == ["accepted"]
    assert storage.balance("ada") == 545
    full = storage.changes(dev, None, 500)  # a till starting from scratch receives the 0.1 data too
    assert {"customer", "product", "offer", "coupon", "signing_key", "presence_identity"} <= {c.kind for c in full.changes}


def test_a_v0_1_hub_is_upgraded_by_hub_migrate_with_its_data(v0_1_hub: tuple[str, str]) -> None:
    engine, target = v0_1_hub
    code, out, err = run_cli(["hub", "migrate", "--db", target])
    assert code == 0, err
    upgraded, unsealed = out.strip().splitlines()  # no hub key in the environment: the v0.1 key stays in clear
    assert upgraded == f"hub database upgraded from v0.1 (before schema revisions) to revision " \
                       f"{migrate.head_revision()}"
    assert unsealed.startswith("1 stored key(s) are unencrypted: make a key with 'store-edge hub new-key'")
    code, out, _ = run_cli(["hub", "migrate", "--db", target])
    assert code == 0 and "already at the newest schema" in out.strip().splitlines()[0]
    storage = HubStorage.open(target)
    try:
        _assert_v0_1_data_kept(storage, engine)
    finally:
        storage.close()


def test_opening_a_v0_1_hub_upgrades_sqlite_and_refuses_postgres_in_one_line(v0_1_hub: tuple[str, str]) -> None:
    engine, target = v0_1_hub
    if engine == "sqlite":  # the embedded default upgrades itself (one process owns the file)
        storage = HubStorage.open(target)
        try:
            _assert_v0_1_data_kept(storage, engine)
        finally:
            storage.close()
        return
    with pytest.raises(migrate.SchemaError) as refused:
        HubStorage.open(target)
    assert "run 'store-edge hub migrate" in str(refused.value) and "\n" not in str(refused.value)
    code, _, err = run_cli(["hub", "exceptions", "--db", target])
    assert code == 1 and "hub migrate" in one_line(err)


def test_a_database_newer_than_the_code_is_refused_in_one_line(v0_1_hub: tuple[str, str]) -> None:
    _, target = v0_1_hub
    assert run_cli(["hub", "migrate", "--db", target])[0] == 0
    db = open_database(target)
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    db.close()
    with pytest.raises(migrate.SchemaError) as refused:
        HubStorage.open(target)
    assert "newer than this store-edge" in str(refused.value)
    for command in (["hub", "migrate"], ["hub", "exceptions"]):
        code, _, err = run_cli([*command, "--db", target])
        assert code == 1 and "revision f00dfeed, newer than this store-edge" in one_line(err)


def _drift(storage: HubStorage) -> list[object]:
    with storage.read() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": storage.dialect == "postgresql"})
        diff = compare_metadata(ctx, metadata)
    if storage.dialect == "sqlite":  # SQLite reports TEXT keys as nullable and REAL for DOUBLE: compare shapes
        diff = [d for d in diff if isinstance(d, tuple)]
    return diff


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_declared_tables_match_the_migrated_schema(kind: str, tmp_path: Path) -> None:
    storage = open_hub_storage(kind, tmp_path)
    try:
        assert _drift(storage) == []  # no table, column or index missing on either side
        with storage.read() as conn:
            assert migrate.schema_state(conn).state == "current"
    finally:
        close_hub_storage(storage)
