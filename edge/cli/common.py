"""What every ``store-edge`` command shares: the handler shape, the shared options, output streams, settings.

The convention (ARCHITECTURE.md, invariant 11): every command handler is ``handler(args, settings) -> int``, set on
its parser with ``set_defaults(handler=...)``. The one dispatcher (:func:`edge.cli.main.main`) loads the
settings, calls the handler and turns a :class:`~edge.core.errors.CliError` into one line
``store-edge: <message>`` on stderr and its exit code (2 for bad input, 1 for an unusable environment).

A command that must run even when the settings cannot be read (``doctor`` diagnoses a broken config,
``ble-watch`` listens anyway, the hub commands with ``--db`` need no device settings) sets
``set_defaults(handler=..., settings=LAZY)``: it receives ``None`` and calls :func:`load_for` itself when needed.

What a command prints is in the technician's language (:func:`cli_locale`): ``[store] locale`` when a config
file (or ``STORE_EDGE_STORE__LOCALE``) was read, else the machine's ``LANGUAGE``/``LC_ALL``/``LC_MESSAGES``/``LANG``
(gettext's order), else English. The dispatcher puts that translator on ``args.tr``; handlers print through
``tr(args)``. The ``--help`` texts of the parsers stay English.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from edge.core.i18n import ENGLISH, SOURCE_LANGUAGE, Translator, normalise_locale, translator

if TYPE_CHECKING:
    from edge.settings import Settings

Handler = Callable[[argparse.Namespace, "Settings | None"], int]
PROG = "store-edge"
PREFIX = f"{PROG}: "
LAZY = "lazy"  # set_defaults(settings=LAZY): the handler loads (or does without) the settings itself
CONFIG_HELP = "config file (default /etc/store-edge/config.toml); accepted before or after the command"


def out(args: argparse.Namespace) -> TextIO:
    """Where a command prints its result (``main(..., stdout=)`` in tests, else sys.stdout)."""
    return getattr(args, "stdout", None) or sys.stdout


def err(args: argparse.Namespace) -> TextIO:
    """Where notes and errors go (``main(..., stderr=)`` in tests, else sys.stderr)."""
    return getattr(args, "stderr", None) or sys.stderr


def machine_locale(environ: Mapping[str, str] | None = None) -> str:
    """The locale of the technician's machine for messages, in GNU gettext's order: ``LANGUAGE`` (its first
    entry), ``LC_ALL``, ``LC_MESSAGES``, ``LANG``; ``C``/``POSIX``, unset or junk -> ``en``.

    Not Babel's ``default_locale``: it also reads ``LC_CTYPE``, which Python itself sets to ``C.UTF-8``
    (PEP 538) when the machine lacks the locale ``LANG`` names, so ``LANG=es_ES.UTF-8`` would read as C there.
    """
    environ = os.environ if environ is None else environ
    names = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")
    found = next((environ[n] for n in names if environ.get(n)), "").split(":")[0]
    if found.split(".")[0] in ("", "C", "POSIX"):
        return SOURCE_LANGUAGE
    try:
        return normalise_locale(found)
    except ValueError:
        return SOURCE_LANGUAGE


def config_was_read(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> bool:
    """Whether the settings came from a config file or name the store's locale in the environment: the file
    given with ``--config`` or ``STORE_EDGE_CONFIG``, or /etc/store-edge/config.toml when it exists."""
    from edge import paths

    environ = os.environ if environ is None else environ
    if getattr(args, "config", None) or environ.get("STORE_EDGE_CONFIG") or environ.get("STORE_EDGE_STORE__LOCALE"):
        return True
    return paths.SYSTEM_CONFIG.exists()


def cli_locale(args: argparse.Namespace, settings: Settings | None, environ: Mapping[str, str] | None = None) -> str:
    """The language of what a command prints: ``[store] locale`` when a config was read (``settings`` not
    None), else :func:`machine_locale`, else English (README, "Languages")."""
    if settings is not None and config_was_read(args, environ):
        return normalise_locale(settings.store.locale)
    return _unchecked_config_locale(args, environ) or machine_locale(environ)


def _unchecked_config_locale(args: argparse.Namespace, environ: Mapping[str, str] | None) -> str | None:
    """``[store] locale`` of a config file that failed to load as a whole (so its error is in the store's
    language too), when that one value is readable and a locale; else None."""
    import tomllib

    from edge import paths

    environ = os.environ if environ is None else environ
    named = getattr(args, "config", None) or environ.get("STORE_EDGE_CONFIG")
    path = Path(named) if named else paths.SYSTEM_CONFIG
    try:
        value = environ.get("STORE_EDGE_STORE__LOCALE") or tomllib.loads(path.read_text())["store"]["locale"]
        return normalise_locale(value) if isinstance(value, str) and value else None
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def set_translator(args: argparse.Namespace, settings: Settings | None) -> Translator:
    """Choose (again, once a LAZY handler has its settings) the translator of this command run: ``args.tr``."""
    args.tr = translator(cli_locale(args, settings))
    return args.tr


def tr(args: argparse.Namespace) -> Translator:
    """The translator of this command run (the dispatcher set it; English when a handler is called directly)."""
    return getattr(args, "tr", None) or ENGLISH


def say(args: argparse.Namespace, text: str) -> None:
    """Print one line of a command's result."""
    print(text, file=out(args))


def note(args: argparse.Namespace, text: str) -> None:
    """Print a note for the technician on stderr, with the one prefix."""
    print(f"{PREFIX}{text}", file=err(args))


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """``--config`` on a sub-command; SUPPRESS so an absent option keeps the value given before the command."""
    if not any(action.dest == "config" for action in parser._actions):
        parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)


def add_data_dir_option(parser: argparse.ArgumentParser, help_text: str = "override the data directory") -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help=help_text)


def command_parsers(parser: argparse.ArgumentParser, path: str = "") -> list[tuple[str, argparse.ArgumentParser]]:
    """Every command parser below ``parser`` with its command path (``"hub serve"``), depth first; used to add
    the shared options everywhere and by the test that every option has help and every command a description."""
    found: list[tuple[str, argparse.ArgumentParser]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                sub_path = f"{path} {name}".strip()
                found.append((sub_path, sub))
                found.extend(command_parsers(sub, sub_path))
    return found


def given(settings: Settings | None) -> Settings:
    """The settings the dispatcher loaded for a command that is not ``LAZY`` (never None there)."""
    if settings is None:
        raise TypeError("this command needs the settings; it must not be registered with settings=LAZY")
    return settings


def load_for(args: argparse.Namespace) -> Settings:
    """The settings for ``args``: ``--config`` (or the default file), the environment, then ``--data-dir``.

    Raises ``edge.settings.ConfigError`` (a ``CliError`` with exit code 2) naming the source, key and problem.
    """
    from edge.settings import load_settings

    settings = load_settings(getattr(args, "config", None))
    data_dir = getattr(args, "data_dir", None)
    return settings.replace(data_dir=Path(data_dir)) if data_dir else settings


def require_database(path: Path) -> None:
    """Refuse a mistyped ``--data-dir``: opening would create an empty store.db and report "0 pending"."""
    from edge.core.errors import CliError
    from edge.core.i18n import N_, Text

    if not path.exists():
        raise CliError(Text(N_("no database at {path}; is this the data dir?"), path=path), 1)


def one_line(exc: BaseException) -> str:
    """An exception's text on one line (psycopg's messages span lines, with hints)."""
    return " ".join(str(exc).split()) or type(exc).__name__
