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


def _tasks() -> list[dict]:
    import yaml

    return yaml.safe_load((ANSIBLE / "roles/store_edge/tasks/main.yml").read_text())


def test_rollout_halts_only_on_what_the_install_controls() -> None:
    tasks = {t["name"]: t for t in _tasks()}
    gates = [t for t in tasks.values() if "doctor" in str(t.get("ansible.builtin.command", ""))
             and t.get("failed_when") is not False]
    assert len(gates) == 1, gates  # an unreachable hub or unplugged scanner must not fail the host
    assert "--only config,database,disk,service" in gates[0]["ansible.builtin.command"]
    full = [t for t in tasks.values() if str(t.get("ansible.builtin.command", "")).endswith("store-edge doctor")]
    assert full and full[0]["failed_when"] is False
    shown = [t for t in tasks.values() if "ansible.builtin.debug" in t]
    assert shown and full[0]["register"] in str(shown[0]["ansible.builtin.debug"])
    assert not any("notify" in t for t in tasks.values())  # no handler whose result nobody reads
    assert not (ANSIBLE / "roles/store_edge/handlers").exists()


def test_architecture_check_refuses_a_wheelhouse_for_another_machine(tmp_path: Path) -> None:
    import platform

    import yaml

    arch_tasks = [t for t in _tasks() if "wheel" in t["name"].lower() and
                  ("ansible.builtin.find" in t or "ansible.builtin.assert" in t)]
    assert len(arch_tasks) == 2
    playbook = tmp_path / "arch.yml"
    # only the architecture fact, not the whole setup module (seconds on a 2-core box)
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": True,
                                         "module_defaults": {"ansible.builtin.setup": {"gather_subset": ["!all"]}},
                                         "tasks": arch_tasks}]))
    here = platform.machine()
    other = "aarch64" if here != "aarch64" else "x86_64"
    results = {}
    for arch in (here, other):
        wheelhouse = tmp_path / f"wh-{arch}"
        wheelhouse.mkdir()
        (wheelhouse / "store_edge-1.0-py3-none-any.whl").write_bytes(b"")
        (wheelhouse / f"orjson-3.13.0-cp311-cp311-manylinux_2_17_{arch}.whl").write_bytes(b"")
        proc = subprocess.run([_tool("ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
                               "-e", f"store_edge_wheelhouse={wheelhouse}", "-e",
                               f"ansible_python_interpreter={sys.executable}"], capture_output=True, text=True,
                              env=_env(), timeout=120)
        results[arch] = proc
    assert results[here].returncode == 0, results[here].stdout + results[here].stderr
    assert results[other].returncode != 0 and f"orjson-3.13.0-cp311-cp311-manylinux_2_17_{other}.whl" in \
        results[other].stdout
