"""Running ``store-edge`` in-process as a user would (argv in; exit status, stdout and stderr out), in an
environment without the tester's own ``STORE_EDGE_*`` variables."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import pytest

from edge.cli import main


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``store-edge <argv>``."""
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def one_line(text: str) -> str:
    """The only line of ``text`` (a command's error); fails on several lines or a traceback."""
    lines = text.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in text
    return lines[0]


@pytest.fixture
def no_store_edge_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ``STORE_EDGE_*`` variable from the tester's shell reaches the command under test."""
    for key in list(os.environ):
        if key.startswith("STORE_EDGE_"):
            monkeypatch.delenv(key)
    yield
