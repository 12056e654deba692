"""The Ansible playbook parses (ansible-playbook --syntax-check) and passes ansible-lint when installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE = Path(__file__).resolve().parents[2] / "deploy/ansible"
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if not path:
        pytest.skip(f"{name} is not installed (pip install ansible-core ansible-lint)")
    return str(path)


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_LOCAL_TEMP": "/tmp", "ANSIBLE_HOME": str(Path("/tmp") / f"ansible-{os.getuid()}")}


def test_playbook_syntax_check() -> None:
    proc = subprocess.run([_tool("ansible-playbook"), "--syntax-check", "-i", "inventory/stores.example.yml",
                           "playbook.yml"], cwd=ANSIBLE, capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_syntax_check_catches_a_broken_role(tmp_path: Path) -> None:
    copy = tmp_path / "ansible"
    shutil.copytree(ANSIBLE, copy)
    tasks = copy / "roles/store_edge/tasks/main.yml"
    tasks.write_text(tasks.read_text() + "\n- name: broken\n  ansible.builtin.command: [unclosed\n")
    proc = subprocess.run([_tool("ansible-playbook"), "--syntax-check", "-i", "inventory/stores.example.yml",
                           "playbook.yml"], cwd=copy, capture_output=True, text=True, env=_env(), timeout=60)
    assert proc.returncode != 0


@pytest.mark.slow
def test_ansible_lint_production_profile() -> None:
    proc = subprocess.run([_tool("ansible-lint"), "--offline", "--profile", "production", "playbook.yml"],
                          cwd=ANSIBLE, capture_output=True, text=True, env=_env(), timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
