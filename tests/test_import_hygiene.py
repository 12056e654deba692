"""The domain core and the store layer never pull in the UI toolkit (the Harlequin-style guard).

Headless processes (the sync client, the presence service, benchmarks) import edge.core and edge.store; loading
Textual there would cost start-up time and memory on a small till and couple the rules to the screen.
"""

from __future__ import annotations

import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUARDED_PACKAGES = ["edge.core", "edge.store"]
FORBIDDEN = ("textual", "rich", "edge.ui")  # as the import-linter contract for edge.core
IMPORT_TEXTUAL = re.compile(r"^\s*(import\s+textual\b|from\s+textual\b)", re.MULTILINE)


def guarded_modules() -> list[str]:
    """Every module of the guarded packages, found on disk so new modules are covered without editing this."""
    names = []
    for package in GUARDED_PACKAGES:
        names.append(package)
        folder = ROOT.joinpath(*package.split("."))
        names += [f"{package}.{m.name}" for m in pkgutil.iter_modules([str(folder)])]
    return [*names, "sync.outbox", "sync.ids", "edge.db", "edge.demo.seed"]


def test_importing_core_and_store_does_not_load_textual() -> None:
    modules = guarded_modules()
    assert "edge.core.offers" in modules and "edge.store.sales" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r} "
        f"or any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r}))))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing the core/store loaded {loaded}"


def test_the_probe_would_notice_textual() -> None:
    # the check above must be able to fail: importing textual in the same kind of subprocess is seen
    script = "import sys, textual; print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "True", result.stderr


def test_no_core_or_store_file_imports_textual() -> None:
    offenders = []
    for package in GUARDED_PACKAGES:
        for path in sorted(ROOT.joinpath(*package.split(".")).rglob("*.py")):
            if IMPORT_TEXTUAL.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_static_pattern_catches_the_usual_spellings() -> None:
    for line in ["import textual", "from textual.app import App", "    from textual import on", "import textual.widgets"]:
        assert IMPORT_TEXTUAL.search(line), line
    for line in ["import textualize_helpers", "# we never import textual here? no: 'import textual' in a string"]:
        assert not IMPORT_TEXTUAL.search(line), line


# ------------------------------------------------------------------------------------------- the layers
LAYER_PROBES = {
    # package: (modules imported, prefixes of this project's modules they may load)
    "devices": ([f"devices.{m}" for m in ("scanners.config", "ble.config", "barcode.config", "barcode.decode",
                                          "ble.factory", "scanners.base", "beacons.frames", "fields")],
                ("devices",)),
    "sync": (["sync.client", "sync.enroll", "sync.credentials", "sync.outbox", "sync.apply", "sync.http_errors",
              "sync.config", "sync.protocol", "sync.ids"],
             ("sync", "edge.core")),
    "edge.core": ([f"edge.core.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "edge" / "core")])],
                  ("edge.core",)),
}


def _loaded_project_modules(modules: list[str]) -> list[str]:
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('edge', 'sync', 'devices'))))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_each_layer_loads_only_what_its_contract_allows() -> None:
    for package, (modules, allowed) in LAYER_PROBES.items():
        loaded = _loaded_project_modules(modules)
        assert set(modules) <= set(loaded), package
        # "edge" itself is the namespace package's __init__ (the version), loaded with any edge.core module
        outside = [m for m in loaded if m != "edge" and not any(m == a or m.startswith(a + ".") for a in allowed)]
        assert outside == [], f"importing {package} loaded {outside}"


def test_the_layer_probe_would_notice_a_wrong_arrow() -> None:
    loaded = _loaded_project_modules(["edge.settings"])  # the app composes every layer's settings
    assert "sync.config" in loaded and "devices.scanners.config" in loaded


def test_import_linter_contracts_are_declared_and_kept() -> None:
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    sources = {tuple(c["source_modules"]) for c in contracts}
    assert {("devices",), ("edge.core",), ("sync",), ("sync.hub",)} <= sources
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout
