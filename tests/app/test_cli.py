"""The ``store-edge`` command line as a whole: one dispatcher, one error prefix, ``--config`` before or after
any command, help on every option, a description on every command, every out-of-range setting refused."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import os
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from edge.cli import build_parser, main
from edge.cli.common import command_parsers
from edge.settings import ENV_SOURCE, ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
SWEDISH_WEIGHT = "2302148210869"  # GS1 Sweden: prefix 23, 1.086 kg


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_store_edge_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("STORE_EDGE_"):
            monkeypatch.delenv(key)


# ------------------------------------------------------------------------------------------- help texts
def test_every_command_has_a_description_and_every_option_help() -> None:
    parser = build_parser()
    commands = command_parsers(parser)
    names = {path for path, _ in commands}
    assert {"demo", "till", "presence", "doctor", "hub serve", "hub create-offer", "hub set-consent",
            "hub presence-rule", "sync status", "devices scan-decode", "simulate store-day"} <= names
    missing = []
    for path, command in [("", parser), *commands]:
        if path and not command.description:
            missing.append(f"{path}: no description")
        for action in command._actions:
            if isinstance(action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction):
                continue
            if not action.help:
                missing.append(f"{path or 'store-edge'} {'/'.join(action.option_strings) or action.dest}: no help")
    assert missing == []


def test_the_walk_would_notice_an_option_without_help() -> None:
    parser = build_parser()
    command = dict(command_parsers(parser))["hub serve"]
    command.add_argument("--undocumented")
    action = next(a for a in command._actions if a.dest == "undocumented")
    assert not action.help


def test_create_offer_params_help_gives_the_format_of_each_kind() -> None:
    text = dict(command_parsers(build_parser()))["hub create-offer"].format_help()
    for kind_params in ('"percent"', '"amount_cents"', '"buy"', '"multiplier"'):
        assert kind_params in text


def test_group_without_a_command_prints_its_help() -> None:
    code, out, _ = run(["devices"])
    assert code == 0 and "scan-decode" in out and "beacon-decode" in out


# ------------------------------------------------------------------------------------------- --config
@pytest.mark.parametrize("where", ["before", "after"])
def test_a_broken_config_is_reported_wherever_config_is_given(tmp_path: Path, where: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub]\ntimeout_s = 'soon'\n")
    config = ["--config", str(bad)]
    for command in (["sync", "status"], ["till"], ["devices", "list"], ["enroll", "--hub", "http://x", "--code", "c"]):
        argv = [*config, *command] if where == "before" else [*command, *config]
        code, _, err = run([*argv, "--data-dir", str(tmp_path)] if command[0] == "sync" else argv)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1, (argv, err)
        assert lines[0].startswith("store-edge: ") and str(bad) in lines[0] and "hub.timeout_s" in lines[0]


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_good_config_is_used_wherever_config_is_given(tmp_path: Path, where: str, capsys) -> None:
    swedish = tmp_path / "se.toml"
    swedish.write_text('[barcode]\nrcn_region = "se"\n')
    command = ["devices", "scan-decode", SWEDISH_WEIGHT]
    argv = ["--config", str(swedish), *command] if where == "before" else [*command, "--config", str(swedish)]
    code, out, _ = run(argv)
    assert code == 0 and json.loads(out)["weight_g"] == 1086
    code, out, _ = run(command)  # without it: no country rules, a plain in-store product number
    assert json.loads(out)["weight_g"] is None


def test_till_accepts_config_after_the_command_in_a_real_process(tmp_path: Path) -> None:
    missing = tmp_path / "x.toml"
    proc = subprocess.run([sys.executable, "-m", "edge.cli", "till", "--config", str(missing)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert "unrecognized arguments" not in proc.stderr
    assert proc.returncode == 2 and proc.stderr.strip() == f"store-edge: config error in {missing}: (file): does not exist"


# ------------------------------------------------------------------------------------------- limits
def _numeric_settings() -> list[tuple[str, type, tuple[float, float]]]:
    found = []
    for section in dataclasses.fields(Settings):
        cls = typing.get_type_hints(Settings)[section.name]
        if not dataclasses.is_dataclass(cls):
            continue
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] in (int, float):
                assert "range" in f.metadata, f"{section.name}.{f.name} declares no range"
                found.append((f"{section.name}.{f.name}", hints[f.name], f.metadata["range"]))
    return found


def test_every_numeric_setting_declares_its_range() -> None:
    keys = {key for key, _, _ in _numeric_settings()}
    assert {"hub.backoff_cap_s", "hub.timeout_s", "scanner.baud", "ble.reset_after_failures",
            "loyalty.max_redeem_share", "barcode.token_skew_s", "till.receipt_width"} <= keys
    assert len(keys) >= 25


@pytest.mark.parametrize(("key", "kind", "limits"), _numeric_settings(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_numeric_setting_out_of_range_is_refused_with_key_and_range(key: str, kind: type,
                                                                          limits: tuple[float, float]) -> None:
    lo, hi = limits
    section, name = key.split(".")
    for bad in (lo - 1, hi * 10 + 1):
        value = str(int(bad)) if kind is int else repr(float(bad))
        env = {f"STORE_EDGE_{section.upper()}__{name.upper()}": value}
        with pytest.raises(ConfigError) as info:
            load_settings(environ=env)
        assert info.value.source == ENV_SOURCE and info.value.key == key
        assert f"between {lo:g} and {hi:g}" in info.value.problem
        assert info.value.exit_code == 2
    inside = str(int(hi)) if kind is int else repr(float(hi))
    assert getattr(getattr(load_settings(environ={f"STORE_EDGE_{section.upper()}__{name.upper()}": inside}),
                           section), name) == (int(hi) if kind is int else float(hi))


@pytest.mark.parametrize("command", [["doctor"], ["sync", "status"], ["till"], ["hub", "exceptions"]])
def test_an_out_of_range_environment_value_stops_the_command_in_one_line(tmp_path: Path, command: list[str]) -> None:
    env = {**os.environ, "STORE_EDGE_HUB__BACKOFF_CAP_S": "-5", "STORE_EDGE_DATA_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "edge.cli", *command], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == ("store-edge: config error in environment (STORE_EDGE_*): hub.backoff_cap_s: "
                                   "must be between 0.01 and 86400, got -5.0")


def test_doctor_reports_a_broken_config_file_as_a_fail_line_not_a_stop(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[hub]\nbackoff_cap_s = -5\n")
    code, out, err = run(["doctor", "--config", str(bad), "--data-dir", str(tmp_path), "--only", "config", "--json"])
    assert code == 1 and err == ""
    check = json.loads(out)["checks"][0]
    assert check["status"] == "FAIL" and "hub.backoff_cap_s: must be between 0.01 and 86400" in check["summary"]


# ------------------------------------------------------------------------------------------- one prefix
def test_errors_use_one_prefix_and_bad_input_exits_2(tmp_path: Path) -> None:
    code, _, err = run(["devices", "listen"])
    assert (code, err) == (2, "store-edge: give --serial PORT or --evdev NAME (or set scanner.serial_port)\n")
    code, _, err = run(["doctor", "--only", "nonsense"])
    assert code == 2 and err.startswith("store-edge: doctor: unknown check(s) nonsense")
    code, _, err = run(["sync", "once", "--data-dir", str(tmp_path / "nobody")])
    assert code == 1 and err.startswith("store-edge: this device is not enrolled")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("")
    code, _, err = run(["simulate", "store-day", "--data-dir", str(tmp_path / "run")])
    assert code == 2 and err.startswith("store-edge: ") and "not empty" in err


def test_no_module_prints_its_own_error_prefix() -> None:
    offenders = []
    for path in sorted((ROOT / "edge").rglob("*.py")) + sorted((ROOT / "sync").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in ('print(f"error:', 'print("error:', 'print(f"store-edge ', 'print("store-edge:'):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []


# ------------------------------------------------------------------------------------------- packaging
def test_license_is_declared_in_the_pep_639_form() -> None:
    import importlib.metadata
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"  # an SPDX expression, not the deprecated table
    assert any(r.startswith("setuptools>=77") for r in project["build-system"]["requires"])
    # the installed metadata was built from it: Metadata 2.4 with License-Expression, no legacy License field
    metadata = importlib.metadata.metadata("store-edge")
    assert metadata["License-Expression"] == "Apache-2.0" and metadata.get("License") is None


def test_output_piped_to_a_reader_that_goes_away_ends_quietly(tmp_path: Path) -> None:
    # `store-edge doctor | head -1`: the reader closes the pipe; the command stops without a traceback or a
    # "store-edge: [Errno 32] Broken pipe" line (unbuffered, so the first line written meets the closed pipe)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "STORE_EDGE_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "edge.cli", "doctor", "--data-dir", str(tmp_path)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert err == ""


@pytest.mark.parametrize(("cents", "months", "words"), [
    (1, 24, "a point is worth €0.01; points expire after 24 months"),
    (0.5, 1, "a point is worth €0.005; points expire after 1 month"),
])
def test_the_liability_report_words_a_points_value_as_money(cents: float, months: int, words: str) -> None:
    from edge.cli.hub import _point_value_words

    assert _point_value_words(argparse.Namespace(), cents, "EUR", months) == words  # never "1 point = 1 cents"


def test_the_liability_report_words_a_points_value_in_spanish() -> None:
    from edge.cli.hub import _point_value_words
    from edge.core.i18n import translator

    args = argparse.Namespace(tr=translator("es_ES"))
    assert _point_value_words(args, 0.5, "EUR", 1) == "un punto vale 0,005\xa0€; los puntos caducan al cabo de 1 mes"
