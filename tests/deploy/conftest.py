"""Fixtures for the deploy tests: a wheelhouse of the project wheel, built once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


@pytest.fixture(scope="session")
def project_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only store-edge's own wheel (building every dependency's wheel takes minutes); releases installed from
    it get their dependencies from the test venv through PYTHONPATH (see ``release_env``)."""
    out = tmp_path_factory.mktemp("wheelhouse")
    src = tmp_path_factory.mktemp("src")
    # build from a copy: an in-tree build would leave build/ and *.egg-info in the checkout
    for name in ("edge", "sync", "devices"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(out), str(src)], check=True, cwd=src,
                   env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    assert list(out.glob("store_edge-*.whl"))
    return out


@pytest.fixture
def release_env() -> dict[str, str]:
    """The environment for install.sh and release binaries: pip offline and without dependencies; the
    dependencies come from the test venv's site-packages (never the repo checkout itself)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STORE_EDGE_", "PIP_", "VIRTUAL_ENV"))}
    env.update(PIP_NO_DEPS="1", PIP_NO_INDEX="1", PIP_IGNORE_INSTALLED="1", PIP_DISABLE_PIP_VERSION_CHECK="1",
               PYTHONPATH=sysconfig.get_paths()["purelib"])
    return env
