"""The real offline install: a wheelhouse with every dependency (what 'make wheelhouse' makes), install.sh
into a throwaway root with pip --no-index and no PYTHONPATH, then the installed release's own doctor.

The other install tests use only the project wheel plus the test venv's site-packages; this one proves the
wheelhouse is complete and the release venv stands on its own. Building the wheels uses pip's configured
indexes and cache (about 15 s here); installing from them is offline."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def offline_env() -> dict[str, str]:
    """No PYTHONPATH, no pip config (its find-links/extra indexes), no venv leaking in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("STORE_EDGE_", "PIP_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INDEX="1")
    return env


@pytest.mark.slow
def test_full_wheelhouse_installs_offline_and_the_release_runs_its_doctor(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for name in ("edge", "sync", "devices"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    wheelhouse = tmp_path / "wheelhouse"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(wheelhouse), str(src)],
                           capture_output=True, text=True, cwd=src, timeout=600)
    if build.returncode != 0:
        pytest.fail("could not build the wheelhouse from pip's indexes/cache (run 'make wheelhouse' by hand "
                    f"to see why): {build.stderr[-800:]}")
    assert len(list(wheelhouse.glob("*.whl"))) > 10  # the project and its dependencies

    root = tmp_path / "root"
    proc = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--root", str(root), "--wheelhouse", str(wheelhouse),
                           "--python", sys.executable], capture_output=True, text=True, env=offline_env(), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    release = root / "opt/store-edge/current"
    store_edge = release / "bin/store-edge"
    assert store_edge.exists()

    # the release's interpreter sees its own site-packages only: textual comes from the release, not a venv
    where = subprocess.run([str(release / "bin/python"), "-c", "import textual, edge; print(textual.__file__); "
                            "print(edge.__file__)"], capture_output=True, text=True, env=offline_env(), cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    for line in where.stdout.split():
        assert Path(line).resolve().is_relative_to(release.resolve()), where.stdout

    doctor = subprocess.run([str(store_edge), "--config", str(root / "etc/store-edge/config.toml"), "doctor",
                             "--json", "--only", "config,database", "--data-dir", str(root / "var/lib/store-edge")],
                            capture_output=True, text=True, env=offline_env(), cwd=tmp_path, timeout=120)
    assert doctor.stdout, doctor.stderr
    doc = json.loads(doctor.stdout.strip().splitlines()[-1])
    assert doctor.returncode == 0 and doc["ok"] is True, doctor.stdout + doctor.stderr
    assert [c["name"] for c in doc["checks"]] == ["config", "database"]
