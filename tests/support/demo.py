"""The demo store the till tests run against: default settings on a freshly seeded SQLite file, at a fixed
moment (so offers, expiry and receipts read the same on every run)."""

from __future__ import annotations

import base64
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devices.barcode.loyalty_token import public_key_bytes
from edge.db import open_database
from edge.demo.seed import seed_demo
from edge.settings import Settings, load_settings

FIXED_NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)


@pytest.fixture
def demo_settings(tmp_path: Path) -> Settings:
    """Default settings (no config file, no env) pointing at a freshly seeded demo database."""
    settings = load_settings(environ={}).replace(data_dir=tmp_path / "data")
    db = open_database(settings.database_path)
    seed_demo(db, now=FIXED_NOW)
    db.close()
    return settings


@pytest.fixture
def spanish_settings(tmp_path: Path) -> Settings:
    """The Spanish demo store (``store-edge demo --locale es``) on a freshly seeded SQLite file."""
    from edge.demo.runner import demo_locale_settings

    settings = demo_locale_settings(load_settings(environ={}), "es").replace(data_dir=tmp_path / "data")
    db = open_database(settings.database_path)
    seed_demo(db, now=FIXED_NOW, locale=settings.store.locale)
    db.close()
    return settings


def store_token_key(settings: Settings, key: Ed25519PrivateKey, kid: str = "k1") -> None:
    """Make ``key``'s public half one this store trusts for signed loyalty-app codes (as a pull would)."""
    db = sqlite3.connect(settings.database_path)
    db.execute("INSERT INTO token_keys (kid, public_key) VALUES (?, ?)",
               (kid, base64.b64encode(public_key_bytes(key)).decode()))  # fmt: skip
    db.commit()
    db.close()
