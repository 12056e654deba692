"""The ``store-edge`` command. Every sub-command builds its objects through the same factories as the tests."""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from edge import __version__, paths
from edge.settings import ConfigError, Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]


def _settings(args: argparse.Namespace, **overrides: object) -> Settings:
    settings = load_settings(args.config)
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    return settings.replace(**overrides) if overrides else settings


def cmd_till(args: argparse.Namespace, settings: Settings) -> int:
    from edge.ui.app import make_app

    make_app(settings).run()
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from edge.demo.runner import demo_data_dir, demo_locale_settings, prepare_demo, run_demo

    settings = demo_locale_settings(settings, args.locale)
    data_dir = Path(args.data_dir) if args.data_dir else demo_data_dir(paths.demo_dir(), args.locale)
    if args.fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    demo_settings = prepare_demo(settings, data_dir, offline_seed=args.no_hub)
    return run_demo(demo_settings, with_hub=not args.no_hub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="store-edge", description="store-edge: the store side of a loyalty programme")
    parser.add_argument("--version", action="version", version=f"store-edge {__version__}")
    parser.add_argument("--config", type=Path, help="config file (default /etc/store-edge/config.toml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the demo till with its own local hub (no hardware, no network)")
    demo.add_argument("--data-dir", help="where the demo keeps its database (default: a per-user demo dir)")
    demo.add_argument("--fresh", action="store_true", help="start again from freshly seeded demo data")
    demo.add_argument("--no-hub", action="store_true", help="run the till alone, offline")
    demo.add_argument("--locale", choices=["en", "es"], default="en",
                      help="the demo store's language: es is a Spanish shop (euros with a comma, Spanish products)")
    demo.set_defaults(handler=cmd_demo)

    till = sub.add_parser("till", help="run the till with the configured store and database")
    till.add_argument("--data-dir", help="override the data directory")
    till.set_defaults(handler=cmd_till)

    for register in _plugin_registrations():
        register(sub)
    return parser


def _plugin_registrations() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Sub-command groups that live with their packages (sync, hub, devices)."""
    from edge.cli_groups import registrations

    return registrations()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) and not getattr(args, "handler", None):
        return int(args.func(args))  # sync/hub/enroll commands read their own settings and say their errors
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        settings = _settings(args)
    except ConfigError as exc:
        print(f"store-edge: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.handler(args, settings) or 0)
    except ConfigError as exc:
        print(f"store-edge: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
