"""Layered settings and the CLI's handling of a broken config file (one clear line, exit status 2)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.settings import ConfigError, load_settings


def test_defaults_file_env_layering(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[store]\nid = "store-42"\nname = "Utrecht Centrum"\n[loyalty]\nmax_redeem_share = 0.4\n')
    s = load_settings(config, environ={"STORE_EDGE_LOYALTY__MAX_REDEEM_SHARE": "0.25", "STORE_EDGE_DATA_DIR": "/x"})
    assert s.store.id == "store-42"  # file beats default
    assert s.store.currency == "EUR"  # default kept
    assert s.loyalty.max_redeem_share == 0.25  # env beats file
    assert s.data_dir == Path("/x")


def test_mappings_from_env_as_json() -> None:
    s = load_settings(environ={"STORE_EDGE_LOYALTY__CATEGORY_MULTIPLIERS": '{"Dairy": 2}'})
    assert s.loyalty.category_multipliers == {"Dairy": 2.0}


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("[loyalty]\nmax_redeem_share = 'lots'\n", "loyalty.max_redeem_share", "expected a number"),
        ("[loyalty]\nmax_redeem_share = 2\n", "loyalty.max_redeem_share", "between 0 and 1"),
        ("[store]\nnmae = 'x'\n", "store.nmae", "unknown setting"),
        ("[store\nid = 1\n", "(file)", "not valid TOML"),
        ("store = 3\n", "store", "expected a [section] table"),
    ],
)
def test_broken_config_names_file_key_and_problem(tmp_path: Path, text: str, key: str, problem: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    assert info.value.source == str(config)
    assert info.value.key == key
    assert problem in info.value.problem


def test_cli_broken_config_one_line_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[hub]\ntimeout_s = 'soon'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--config", str(config), "till"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(config) in lines[0] and "hub.timeout_s" in lines[0] and "expected a number" in lines[0]


def test_cli_missing_config_file(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--config", str(tmp_path / "nope.toml"), "till"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "does not exist" in proc.stderr


@pytest.mark.parametrize(
    ("env", "key", "problem"),
    [
        ({"STORE_EDGE_SCANNER__TERMINATOR": "XX"}, "scanner.terminator", "must be one of"),
        ({"STORE_EDGE_SCANNER__KEYBOARD_LAYOUT": "qq"}, "scanner.keyboard_layout", "must be one of"),
        ({"STORE_EDGE_BARCODE__LOYALTY_CARD_CHECK": "mod10"}, "barcode.loyalty_card_check", "must be one of"),
        ({"STORE_EDGE_BARCODE__RCN_REGION": "xx"}, "barcode.rcn_region", "must be one of"),
        ({"STORE_EDGE_BARCODE__STORE_COUPON_PATTERN": "(("}, "barcode.store_coupon_pattern", "regular expression"),
        ({"STORE_EDGE_BARCODE__VARIABLE_MEASURE_RULES": '{"28": "kg"}'}, "barcode.variable_measure_rules.28",
         "should look like"),
        ({"STORE_EDGE_BLE__MODE": "loud"}, "ble.mode", "must be one of"),
        ({"STORE_EDGE_STORE__LOCALE": "xx_QQ"}, "store.locale", "not a known locale; write it like es_ES"),
        ({"STORE_EDGE_STORE__CURRENCY": "EURO"}, "store.currency", "not an ISO 4217 currency code"),
        ({"STORE_EDGE_STORE__TIMEZONE": "Europe/Madird"}, "store.timezone", "write it like Europe/Madrid"),
        ({"STORE_EDGE_STORE__COUNTRY": "XX"}, "store.country", "write it like ES, CO, MX or NL"),
    ],
)
def test_values_outside_their_choices_are_refused_with_the_key(env: dict[str, str], key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(environ=env)
    assert info.value.key == key and problem in info.value.problem


def test_keyboard_layout_choices_are_the_layouts_the_evdev_decoder_knows() -> None:
    from devices.scanners.config import ScannerConfig
    from devices.scanners.evdev_keys import LAYOUTS

    declared = {f.name: f.metadata for f in dataclasses.fields(ScannerConfig)}
    assert set(declared["keyboard_layout"]["choices"]) == set(LAYOUTS)


def test_a_spanish_store_is_set_by_its_locale_currency_zone_and_country() -> None:
    store = load_settings(environ={"STORE_EDGE_STORE__LOCALE": "es-CO", "STORE_EDGE_STORE__CURRENCY": "COP",
                                   "STORE_EDGE_STORE__TIMEZONE": "America/Bogota",
                                   "STORE_EDGE_STORE__COUNTRY": "CO"}).store  # fmt: skip
    assert store.formats.locale == "es_CO"
    assert store.formats.money(744_000) == "$7.440"
    assert store.formats.tr._("Change") == "Cambio"
