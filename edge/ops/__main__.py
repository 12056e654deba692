"""``python -m edge.ops doctor|upgrade|rollback|presence``: the ops commands without the rest of the CLI.

The upgrade's health check runs the *new* release's doctor this way, so it does not depend on how the
release's ``store-edge`` command is assembled. The commands go through the one dispatcher (``edge.cli.main``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from edge.cli.common import CONFIG_HELP, add_config_option, command_parsers
from edge.cli.main import dispatch
from edge.ops import cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m edge.ops", description="store-edge's ops commands")
    parser.add_argument("--config", type=Path, default=None, help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    for _path, command in command_parsers(parser):
        add_config_option(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
