"""What ``store-edge`` prints is in the technician's language: ``[store] locale`` of a config, else LANG & co."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli.common import machine_locale

NO_LOCALE = {k: v for k, v in os.environ.items()
             if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG") and not k.startswith("STORE_EDGE_")}


def run(args: list[str], *, lang: str | None, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = dict(NO_LOCALE, HOME=str(tmp), XDG_DATA_HOME=str(tmp / "xdg"))
    if lang is not None:
        env["LANG"] = lang
    return subprocess.run([sys.executable, "-m", "edge.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_a_spanish_machine_gets_a_spanish_doctor(tmp_path: Path) -> None:
    done = run(["doctor", "--data-dir", str(tmp_path / "nowhere"), "--only", "database,disk,hub"],
               lang="es_ES.UTF-8", tmp=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "el directorio de datos" in done.stdout and "no existe" in done.stdout
    assert "no hay hub configurado" in done.stdout and "disco" in done.stdout
    for english in ("does not exist", "no hub configured", "check --data-dir", "the data dir"):
        assert english not in done.stdout, english


def test_the_store_locale_of_the_config_wins_over_an_english_machine(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[store]\nid = "madrid-1"\nlocale = "es_ES"\n')
    config.chmod(0o600)
    done = run(["--config", str(config), "doctor", "--data-dir", str(tmp_path / "d"), "--only", "config,hub"],
               lang="en_US.UTF-8", tmp=tmp_path)
    assert "válida" in done.stdout and "tienda madrid-1" in done.stdout, done.stdout
    assert "valid (" not in done.stdout


def test_an_out_of_range_setting_is_refused_in_spanish(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[till]\nreceipt_width = 500\n')
    done = run(["--config", str(config), "sync", "status"], lang="es_ES.UTF-8", tmp=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"store-edge: error de configuración en {config}: till.receipt_width: "
                                   "debe estar entre 20 y 200, se recibió 500")
    # the config's own [store] locale says it too, even though the file as a whole could not be used
    config.write_text('[store]\nlocale = "es_ES"\n[till]\nreceipt_width = 500\n')
    done = run(["--config", str(config), "sync", "status"], lang="en_US.UTF-8", tmp=tmp_path)
    assert "debe estar entre 20 y 200" in done.stderr


def test_a_bad_hub_address_and_an_unreachable_hub_are_said_in_spanish(tmp_path: Path) -> None:
    bad = run(["enroll", "--hub", "ftp://hub.example", "--code", "X", "--data-dir", str(tmp_path)],
              lang="es_ES.UTF-8", tmp=tmp_path)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "store-edge: la dirección del hub 'ftp://hub.example' debe empezar por http:// o https://"
    down = run(["enroll", "--hub", "http://127.0.0.1:9", "--code", "X", "--data-dir", str(tmp_path)],
               lang="es_ES.UTF-8", tmp=tmp_path)
    assert down.returncode == 1 and "no se puede contactar con el hub en http://127.0.0.1:9" in down.stderr


def test_an_english_machine_stays_english(tmp_path: Path) -> None:
    done = run(["doctor", "--data-dir", str(tmp_path / "nowhere"), "--only", "disk,hub"], lang="en_GB.UTF-8",
               tmp=tmp_path)
    assert "the data dir" in done.stdout and "does not exist" in done.stdout and "no hub configured" in done.stdout
    plain = run(["enroll", "--hub", "ftp://x", "--code", "X", "--data-dir", str(tmp_path)], lang=None, tmp=tmp_path)
    assert "must start with http:// or https://" in plain.stderr


@pytest.mark.parametrize(("environ", "expected"), [
    ({"LANG": "es_ES.UTF-8"}, "es_ES"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "es_CO.UTF-8"}, "es_CO"),
    ({"LANG": "es_ES.UTF-8", "LC_ALL": "C"}, "en"),
    ({"LANGUAGE": "es:en", "LANG": "C.UTF-8"}, "es"),
    ({"LANG": "C.UTF-8", "LC_CTYPE": "es_ES.UTF-8"}, "en"),  # LC_CTYPE is the character set, not the language
    ({"LANG": "not a locale!"}, "en"),
    ({}, "en"),
])
def test_the_machine_language_in_gettext_order(environ: dict[str, str], expected: str) -> None:
    assert machine_locale(environ) == expected


def test_the_hub_commands_speak_spanish_with_spanish_numbers(tmp_path: Path) -> None:
    db = str(tmp_path / "hub.db")
    assert run(["hub", "seed-demo", "--db", db], lang="es_ES.UTF-8", tmp=tmp_path).returncode == 0
    show = run(["hub", "programme", "show", "--db", db], lang="es_ES.UTF-8", tmp=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "Silver desde 50.000 céntimos x1,25" in show.stdout
    assert "(meses tras los que caducan los puntos ganados (0: nunca))" in show.stdout
    assert " from " not in show.stdout and " cents " not in show.stdout
    report = run(["hub", "report", "liability", "--db", db], lang="es_ES.UTF-8", tmp=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "pasivo de puntos del programa" in report.stdout and "un punto vale 0,01\xa0€" in report.stdout
    total = next(line for line in report.stdout.splitlines() if line.startswith("total"))
    assert total.split()[1] == "122.542" and "1225,42\xa0€" in total.replace(".", "")  # points grouped as money
    refused = run(["hub", "programme", "set", "expiry_months=500", "--db", db], lang="es_ES.UTF-8", tmp=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "store-edge: programa: expiry_months: debe ser un número entero de 0 a 120 (meses tras los que caducan "
        "los puntos ganados (0: nunca)), se recibió 500",
        "store-edge: 1 valor(es) del programa rechazado(s); no se cambió nada"]
    english = run(["hub", "report", "liability", "--db", db], lang="en_US.UTF-8", tmp=tmp_path)
    assert "122,542" in english.stdout and "€1,225.42" in english.stdout and "a point is worth €0.01" in english.stdout
