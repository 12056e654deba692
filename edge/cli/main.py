"""The ``store-edge`` command: the parser of every sub-command, and the one dispatcher.

Every sub-command builds its objects through the same factories as the tests. The command groups live beside
this module (``edge/cli/sync.py``, ``hub.py``, ``devices.py``) or with the package they drive
(``edge/ops/cli.py``, ``edge/simulate/cli.py``); each ``register(subparsers)`` adds its commands, and every
handler is ``handler(args, settings) -> int`` (see ``edge.cli.common``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from edge import __version__
from edge.cli.common import (
    CONFIG_HELP,
    LAZY,
    PREFIX,
    PROG,
    add_config_option,
    add_data_dir_option,
    command_parsers,
    given,
    load_for,
    one_line,
    set_translator,
    tr,
)
from edge.core.errors import CliError
from edge.settings import Settings


def cmd_till(args: argparse.Namespace, settings: Settings | None) -> int:
    from edge.ui.app import run_till

    settings = given(settings)
    if args.accept_new_database:
        from edge.db.identity import accept_new_database

        kept = accept_new_database(settings.database_path)
        if kept is not None:
            print(PREFIX + tr(args)._("the old identity marker was kept as {path}").format(path=kept), file=sys.stderr)
    return run_till(settings)  # 1 when an error stopped the till, never 0 after a failure


def cmd_demo(args: argparse.Namespace, settings: Settings | None) -> int:
    from edge import paths
    from edge.demo.runner import demo_data_dir, demo_locale_settings, prepare_demo, run_demo

    settings = demo_locale_settings(given(settings), args.locale)
    data_dir = Path(args.data_dir) if args.data_dir else demo_data_dir(paths.demo_dir(), args.locale)
    if args.fresh and data_dir.exists():
        shutil.rmtree(data_dir)
    demo_settings = prepare_demo(settings, data_dir, offline_seed=args.no_hub)
    return run_demo(demo_settings, with_hub=not args.no_hub)


def _register_app(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="run the demo till with its own local hub (no hardware, no network)",
                          description="A seeded demo store in its own data directory (printed at start), with "
                                      "its own hub on 127.0.0.1, an enrolled till and a replayed shop-floor walk.")
    demo.add_argument("--data-dir", help="where the demo keeps its database (default: a per-user demo dir)")
    demo.add_argument("--fresh", action="store_true", help="start again from freshly seeded demo data")
    demo.add_argument("--no-hub", action="store_true", help="run the till alone, offline")
    demo.add_argument("--locale", choices=["en", "es"], default="en",
                      help="the demo store's language: es is a shop in Madrid (euros with a comma, Spanish products)")
    demo.set_defaults(handler=cmd_demo)

    till = sub.add_parser("till", help="run the till with the configured store and database",
                          description="The till for the configured store: settings from --config (default "
                                      "/etc/store-edge/config.toml) and STORE_EDGE_* variables.")
    add_data_dir_option(till)
    till.add_argument("--accept-new-database", action="store_true",
                      help="use the database found (or a new one) although another one of this device was there")
    till.set_defaults(handler=cmd_till)


def _registrations() -> list[Callable[[argparse._SubParsersAction], object]]:
    from edge.cli import devices, hub, sync
    from edge.ops import cli as ops_cli
    from edge.simulate import cli as simulate_cli

    return [_register_app, devices.register, sync.register_sync, hub.register, sync.register_enroll,
            ops_cli.register, simulate_cli.register]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; ``--config`` is accepted before or after any command."""
    parser = argparse.ArgumentParser(prog=PROG, description="store-edge: the store side of a loyalty programme")
    parser.add_argument("--version", action="version", version=f"store-edge {__version__}")
    parser.add_argument("--config", type=Path, default=None, help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _registrations():
        register(sub)
    for _path, command in command_parsers(parser):
        add_config_option(command)
    return parser


def _failure_types() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "this database/file/server cannot be used": one line and exit 1, no traceback."""
    import sqlite3

    from edge.db.connection import DatabaseError, SchemaTooNewError

    types: list[type[BaseException]] = [DatabaseError, SchemaTooNewError, sqlite3.DatabaseError, OSError]
    if "psycopg" in sys.modules:  # only the hub's PostgreSQL storage loads it
        types.append(sys.modules["psycopg"].OperationalError)
    return tuple(types)


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run one command; returns its exit status. ``stdout``/``stderr`` capture its output (tests)."""
    return dispatch(build_parser(), argv, stdout=stdout, stderr=stderr)


def dispatch(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, *, stdout: TextIO | None = None,
             stderr: TextIO | None = None) -> int:
    """The one dispatcher: parse ``argv``, load the settings (unless the command reads them itself), call the
    handler; a ``CliError`` or an unusable database/file becomes one ``store-edge: ...`` line on stderr."""
    args = parser.parse_args(argv)
    args.stdout, args.stderr = stdout, stderr
    errors = stderr or sys.stderr
    handler = getattr(args, "handler", None)
    if handler is None:
        command = getattr(args, "command", None)
        (parser if command is None else _group_parser(parser, command)).print_help(stdout)
        return 0
    set_translator(args, None)  # the machine's language until the settings say the store's
    try:
        settings = None if getattr(args, "settings", None) == LAZY else load_for(args)
        set_translator(args, settings)
        return int(handler(args, settings) or 0)
    except CliError as exc:
        print(f"{PREFIX}{tr(args).text(exc.message)}", file=errors)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (``store-edge ... | head``): stop quietly, as other tools do
        _quiet_stdout(stdout)
        return 141  # 128 + SIGPIPE, what a shell reports for a tool the pipe closed on
    except _failure_types() as exc:
        text = tr(args).text(exc.args[0]) if exc.args and hasattr(exc.args[0], "template") else one_line(exc)
        if type(exc).__module__.startswith("psycopg"):
            text = tr(args)._("cannot use the hub database: {problem}").format(problem=text)
        print(f"{PREFIX}{text}", file=errors)
        return 1


def _quiet_stdout(stdout: TextIO | None) -> None:
    """After a broken pipe on the process's own stdout, point it at /dev/null so Python's flush at exit does
    not report the same broken pipe again (the recipe of the Python docs, "Note on SIGPIPE")."""
    if stdout is not None:
        return  # a caller's stream (tests): theirs to handle
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _group_parser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for path, sub in command_parsers(parser):
        if path == command:
            return sub
    return parser


__all__ = ["build_parser", "dispatch", "main"]
