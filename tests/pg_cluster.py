"""A PostgreSQL server for the hub's test-suite: the machine's own on 127.0.0.1:5432 when it answers, else a
private throw-away cluster started from the Debian binaries (package `postgresql`, installed by `make test`).

So a fresh machine runs the PostgreSQL half of the hub suite too, instead of skipping it.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
_started: dict[str, str] = {}


def _answers(dsn: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=3):
            return True
    except Exception:
        return False


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


def _as_postgres(cmd: list[str]) -> list[str]:
    # initdb and the server refuse to run as root; Debian's package creates the postgres user
    if os.geteuid() == 0 and shutil.which("runuser"):
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def _start_private() -> str | None:
    initdb, pg_ctl = _tool("initdb"), _tool("pg_ctl")
    if not initdb or not pg_ctl:
        return None
    base = tempfile.mkdtemp(prefix="store-edge-pg-")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data = os.path.join(base, "data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        subprocess.run(_as_postgres([initdb, "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                       check=True, capture_output=True, timeout=120)  # fmt: skip
        opts = f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off"
        subprocess.run(_as_postgres([pg_ctl, "-D", data, "-o", opts, "-w", "-t", "60", "-l",
                                     os.path.join(base, "log"), "start"]),
                       check=True, capture_output=True, timeout=120)  # fmt: skip
    except (subprocess.SubprocessError, OSError):
        shutil.rmtree(base, ignore_errors=True)
        return None

    def stop() -> None:
        subprocess.run(_as_postgres([pg_ctl, "-D", data, "-m", "immediate", "stop"]), capture_output=True,
                       timeout=60)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)

    atexit.register(stop)
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE test")
    return f"postgresql://postgres@127.0.0.1:{port}/test"


def test_dsn() -> str | None:
    """The DSN to test against (STORE_EDGE_TEST_PG_DSN wins), or None when no server can be had."""
    if "dsn" in _started:
        return _started["dsn"] or None
    dsn = os.environ.get("STORE_EDGE_TEST_PG_DSN", DEFAULT_DSN)
    if not _answers(dsn) and "STORE_EDGE_TEST_PG_DSN" not in os.environ:
        dsn = _start_private() or ""
    _started["dsn"] = dsn
    return dsn or None
