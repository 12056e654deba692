"""Secrets at rest (issue 12 item 4): signing keys, EID identity keys and the webhook secret are stored
encrypted with the operator's key (``STORE_EDGE_HUB_KEY``), served and used in clear; ``hub migrate`` seals a
plaintext database and re-seals under a new key; a production hub refuses to start without the key, a demo
hub says it runs unencrypted. On SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlalchemy import text

from edge.cli.main import main
from sync.hub import sealing
from sync.hub.migrate import migrate_command
from sync.hub.server import HubServer
from sync.hub.storage import HubStorage
from tests.support.hub import close_hub_storage, open_hub_storage, seed

EID_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def keyed_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    key = sealing.new_key()
    monkeypatch.setenv(sealing.KEY_ENV, key)
    yield key


def _raw(storage: HubStorage, sql: str) -> list[str]:
    with storage.db.read() as conn:
        return [str(r[0]) for r in conn.execute(text(sql))]


def _stored_secrets(storage: HubStorage) -> list[str]:
    return (_raw(storage, "SELECT private_pem FROM signing_keys")
            + _raw(storage, "SELECT eid_identity_key FROM presence_identities WHERE eid_identity_key IS NOT NULL")
            + _raw(storage, "SELECT value FROM config WHERE key = 'webhook_secret'"))


def _fill(storage: HubStorage) -> dict[str, str]:
    codes = seed(storage, {"s1": ["t1"]}, {"ada": ("s1", 10)})
    storage.set_consent("ada", "location", True)
    storage.set_eid_key("ada", EID_KEY, 10)
    storage.set_config("webhook_secret", "hook-secret")
    storage.ensure_signing_key()
    return codes


def _target(storage: HubStorage, tmp_path: Path) -> tuple[str, str | None]:
    if storage.dialect == "sqlite":
        return str(tmp_path / "hub.db"), None
    return str(storage.db.engine.url.render_as_string(hide_password=False)), storage.db.schema


def test_secrets_are_sealed_at_rest_and_served_in_clear(kind: str, tmp_path: Path, keyed_env: str) -> None:
    storage = open_hub_storage(kind, tmp_path)
    try:
        codes = _fill(storage)
        stored = _stored_secrets(storage)
        assert len(stored) == 3
        kid = sealing.key_id(keyed_env.encode())
        assert all(s.startswith(f"{sealing.PREFIX}{kid}:") for s in stored), stored
        assert not any("PRIVATE KEY" in s or EID_KEY in s or "hook-secret" in s for s in stored)
        # used and served in clear
        assert storage.get_config("webhook_secret") == "hook-secret"
        kid_signing = storage.ensure_signing_key()
        pem = storage.signing_private_key_pem(kid_signing)
        assert pem is not None and load_pem_private_key(pem.encode(), None) is not None
        with HubServer(storage) as hub:
            token = httpx.post(f"{hub.url}/v1/enroll", json={"code": codes["t1"]}).json()["token"]
            page = httpx.get(f"{hub.url}/v1/changes", headers={"Authorization": f"Bearer {token}"}).json()
        served = [c["data"] for c in page["changes"] if c["kind"] == "presence_identity"]
        assert served and served[0]["eid_identity_key"] == EID_KEY
    finally:
        close_hub_storage(storage)


def test_migrate_seals_a_plaintext_database_and_rotates_keys(kind: str, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sealing.KEY_ENV, raising=False)
    storage = open_hub_storage(kind, tmp_path)
    try:
        _fill(storage)
        assert any("PRIVATE KEY" in s for s in _stored_secrets(storage))  # demo mode: in clear
        target, schema = _target(storage, tmp_path)
        old = sealing.new_key()
        monkeypatch.setenv(sealing.KEY_ENV, old)
        out = io.StringIO()
        assert migrate_command(target, out, schema=schema) == 0
        assert f"3 stored key(s) encrypted with hub key {sealing.key_id(old.encode())}" in out.getvalue()
        assert all(s.startswith(sealing.PREFIX + sealing.key_id(old.encode())) for s in _stored_secrets(storage))
        new = sealing.new_key()
        monkeypatch.setenv(sealing.KEY_ENV, f"{new},{old}")  # rotation: the new key first, the old one after
        assert migrate_command(target, io.StringIO(), schema=schema) == 0
        assert all(s.startswith(sealing.PREFIX + sealing.key_id(new.encode())) for s in _stored_secrets(storage))
        monkeypatch.setenv(sealing.KEY_ENV, new)
        rotated = HubStorage.open(target, schema_name=schema)
        try:
            assert rotated.get_config("webhook_secret") == "hook-secret"
        finally:
            rotated.close()
        monkeypatch.setenv(sealing.KEY_ENV, old)  # the old key alone no longer opens them
        stale = HubStorage.open(target, schema_name=schema)
        try:
            with pytest.raises(sealing.SealingError, match="which STORE_EDGE_HUB_KEY does not hold"):
                stale.get_config("webhook_secret")
        finally:
            stale.close()
    finally:
        close_hub_storage(storage)


def test_a_production_hub_refuses_to_start_without_its_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sealing.KEY_ENV, raising=False)
    monkeypatch.delenv(sealing.KEY_FILE_ENV, raising=False)
    db = tmp_path / "hub.db"
    err = io.StringIO()
    assert main(["hub", "serve", "--db", str(db), "--production"], stderr=err) == 1
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and "STORE_EDGE_HUB_KEY" in lines[0] and "store-edge hub new-key" in lines[0], lines
    assert _no_signing_key(db)
    err = io.StringIO()
    assert main(["hub", "serve", "--db", str(db), "--host", "10.1.2.3"], stderr=err) == 1  # beyond this machine
    assert "a production hub keeps its signing and beacon keys encrypted" in err.getvalue()


def _no_signing_key(db: Path) -> bool:
    storage = HubStorage.open(db)
    try:
        with storage.db.read() as conn:
            return int(conn.execute(text("SELECT count(*) FROM signing_keys")).scalar_one()) == 0
    finally:
        storage.close()


def test_a_sealed_database_without_its_key_is_refused_and_demo_mode_says_so(tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(sealing.KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(sealing.KEY_ENV, sealing.new_key())
    storage = HubStorage.open(tmp_path / "hub.db")
    storage.ensure_signing_key()
    storage.close()
    monkeypatch.delenv(sealing.KEY_ENV)
    storage = HubStorage.open(tmp_path / "hub.db")
    try:
        with storage.db.read() as conn:
            refusal, _ = sealing.start_problem(conn, storage.sealer, production=False)
        assert refusal is not None and "holds encrypted keys but no hub key was given" in refusal
    finally:
        storage.close()
    plain = HubStorage.open(tmp_path / "plain.db")
    try:
        with plain.db.read() as conn:
            refusal, note = sealing.start_problem(conn, plain.sealer, production=False)
        assert refusal is None and note is not None and "stored unencrypted" in note
    finally:
        plain.close()


def test_a_key_file_readable_by_others_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "hub.key"
    path.write_text(sealing.new_key() + "\n")
    path.chmod(0o644)
    sealer = sealing.sealer_from_env({sealing.KEY_FILE_ENV: str(path)})
    assert sealer.active
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)
    with pytest.raises(sealing.SealingError, match="does not exist"):
        sealing.sealer_from_env({sealing.KEY_FILE_ENV: str(tmp_path / "missing")})
    with pytest.raises(sealing.SealingError, match="is not a key made by"):
        sealing.sealer_from_env({sealing.KEY_ENV: "not-a-key"})
