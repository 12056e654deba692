"""``python -m edge.ops doctor|upgrade|rollback|presence``: the ops commands without the rest of the CLI.

The upgrade's health check runs the *new* release's doctor this way, so it does not depend on how the
release's ``store-edge`` command is assembled.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from edge.ops import cli


def main(argv: Sequence[str] | None = None) -> int:
    from edge.settings import ConfigError, load_settings

    parser = argparse.ArgumentParser(prog="python -m edge.ops")
    parser.add_argument("--config", type=Path, default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    args = parser.parse_args(argv)
    if getattr(args, "func", None):
        return int(args.func(args))
    try:
        settings = load_settings(args.config)
        if getattr(args, "data_dir", None):
            settings = settings.replace(data_dir=Path(args.data_dir))
    except ConfigError as exc:
        print(f"store-edge: {exc}", file=sys.stderr)
        return 2
    return int(args.handler(args, settings))


if __name__ == "__main__":
    sys.exit(main())
