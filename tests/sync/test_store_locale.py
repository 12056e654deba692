"""A store's locale, currency and time zone are set at the hub (`hub create-store`/`set-store`), reach its tills
with the store through the change feed, and the till uses them (its `[store]` settings the fallback); on SQLite
and PostgreSQL, the hub over HTTP on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from edge.cli import hub as hub_cli
from edge.settings import Settings, load_settings
from edge.ui.app import with_hub_store
from sync.apply import STORE_KEY, store_profile
from sync.hub.server import HubServer
from sync.hub.storage import HubError, HubStorage
from tests.support.hub import make_edge, seed


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    hub_cli.register(parser.add_subparsers())
    return parser.parse_args(["hub", *argv])


def _settings(data_dir: Path) -> Settings:
    return load_settings(environ={}).replace(data_dir=data_dir)


def test_the_store_s_locale_set_at_the_hub_reaches_its_till_and_only_its_till(
    hub: HubServer, hub_storage: HubStorage, tmp_path: Path
) -> None:
    codes = seed(hub_storage, {"bogota": ["till-1"], "madrid": ["till-2"]}, {})
    hub_cli._set_store(_args("set-store", "bogota", "--name", "Tienda Chapinero", "--locale", "es-co",
                             "--currency", "cop", "--timezone", "America/Bogota"), hub_storage)  # fmt: skip
    bogota, madrid = make_edge(tmp_path, "b", hub.url, codes["till-1"]), make_edge(tmp_path, "m", hub.url, codes["till-2"])
    bogota.client().sync_once()
    madrid.client().sync_once()

    assert store_profile(bogota.db) == {"name": "Tienda Chapinero", "locale": "es_CO", "currency": "COP",
                                        "timezone": "America/Bogota"}  # fmt: skip
    assert store_profile(madrid.db) == {"name": "madrid"}  # nothing of the other store; no locale set for it
    settings = with_hub_store(_settings(bogota.data_dir), bogota.db)
    assert (settings.store.locale, settings.store.currency, settings.store.timezone) == ("es_CO", "COP",
                                                                                         "America/Bogota")
    assert settings.store.formats.money(744_000) == "$7.440"  # 744,000 minor units (ISO 4217: 2 decimals) = 7,440 pesos
    assert settings.store.name == "Demo Store"  # the configured name: the hub's is its record, not the till's
    fallback = with_hub_store(_settings(madrid.data_dir), madrid.db)
    assert (fallback.store.locale, fallback.store.currency) == ("en", "EUR")  # the settings where the hub is silent

    # a later change reaches the till at its next pull; what is not given is kept
    hub_cli._set_store(_args("set-store", "bogota", "--timezone", "America/Lima"), hub_storage)
    bogota.client().sync_once()
    assert store_profile(bogota.db)["timezone"] == "America/Lima"
    assert store_profile(bogota.db)["currency"] == "COP" and store_profile(bogota.db)["name"] == "Tienda Chapinero"


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--locale", "klingon", "is not a locale"), ("--currency", "EURO", "currency"),
    ("--timezone", "Mars/Olympus", "is not a time zone"),
])  # fmt: skip
def test_a_store_locale_the_till_could_not_use_is_refused_at_the_hub_in_words(
    hub_storage: HubStorage, option: str, value: str, words: str
) -> None:
    hub_storage.create_store("s1", "One")
    with pytest.raises(HubError, match=words):
        hub_cli._set_store(_args("set-store", "s1", option, value), hub_storage)
    with pytest.raises(HubError, match="there is no store"):
        hub_cli._set_store(_args("set-store", "nowhere", "--locale", "es_ES"), hub_storage)


def test_a_bad_store_value_from_a_hub_is_refused_by_the_till_and_the_settings_stay(tmp_path: Path) -> None:
    from edge.db import open_database
    from sync.apply import apply_page
    from sync.protocol import Change, ChangesPage

    db = open_database(tmp_path / "store.db")
    apply_page(db, ChangesPage([Change("store", "s1", {"id": "s1", "locale": "es_ES", "timezone": "Nowhere/X"})],
                               "c1", False))  # fmt: skip
    assert db.execute("SELECT value FROM sync_state WHERE key = ?", [STORE_KEY]).fetchone() is None
    assert with_hub_store(_settings(tmp_path), db).store.locale == "en"
