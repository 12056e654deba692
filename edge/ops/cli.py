"""``store-edge doctor``, ``upgrade``, ``rollback`` and ``presence`` (the headless presence service).

Wired with ``ops_cli.register(sub)`` on the top-level subparsers; handlers are ``handler(args, settings)``
(``edge.cli.common``). ``doctor`` reads its own settings (``settings=LAZY``) so that a broken config file is one
FAIL line among the others instead of stopping the command.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from edge.cli.common import LAZY, out, set_translator
from edge.core.errors import CliError
from edge.core.i18n import N_, Text
from edge.ops import doctor, releases, sdnotify
from edge.settings import Settings


def _doctor(args: argparse.Namespace, settings: Settings | None) -> int:
    return cmd_doctor(args)


def cmd_doctor(args: argparse.Namespace, probes: doctor.Probes | None = None) -> int:
    """Run the checks and print them; exit 1 when any FAIL (a broken config file is one of them).

    A bad STORE_EDGE_* variable is input given with this very command, not the device's state: like a bad
    option it stops the doctor with one line naming the key and the allowed values (``ConfigError``, exit 2).
    """
    from edge.settings import ENV_SOURCE, ConfigError, load_settings

    try:
        load_settings(args.config)
    except ConfigError as exc:
        if exc.source == ENV_SOURCE:
            raise
    config_path = args.config
    if config_path is None:
        from edge import paths

        config_path = paths.SYSTEM_CONFIG if paths.SYSTEM_CONFIG.exists() else None
    settings, error = doctor.settings_or_error(args.config, Path(args.data_dir) if args.data_dir else None)
    only = [c.strip() for c in args.only.split(",")] if args.only else list(doctor.ALL_CHECKS)
    unknown = set(only) - set(doctor.ALL_CHECKS)
    if unknown:
        raise CliError(Text(N_("doctor: unknown check(s) {unknown}; choose from {checks}"),
                            unknown=", ".join(sorted(unknown)), checks=", ".join(doctor.ALL_CHECKS)), 2)
    results = doctor.run_checks(settings, config_error=error, config_path=config_path, probes=probes, only=only,
                                data_dir=Path(args.data_dir) if args.data_dir else None)
    tr = set_translator(args, settings)  # the store's language once its config is read, else the machine's
    print(doctor.report_json(results) if args.json else doctor.report_text(results, tr), file=out(args))
    return doctor.exit_status(results)


def _layout(args: argparse.Namespace) -> releases.Layout:
    return releases.Layout(Path(args.root))


def _services(args: argparse.Namespace) -> releases.Services:
    return releases.NoServices() if args.root != "/" or args.no_restart else releases.SystemdServices()


def cmd_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    layout = _layout(args)
    if args.resume:
        return _resume(layout)
    if not args.wheelhouse:
        raise CliError(Text(N_("upgrade: --wheelhouse DIR is required (make it with 'make wheelhouse')")), 2)
    wheelhouse = Path(args.wheelhouse)
    if not wheelhouse.is_dir():
        raise CliError(Text(N_("upgrade: {path} is not a directory (make it with 'make wheelhouse')"),
                            path=wheelhouse), 2)
    live = args.root == "/" and not args.no_restart
    check = releases.doctor_health_check(layout, settle_s=args.settle if live else 0.0,
                                         systemctl=releases.run_systemctl if live else None)
    try:
        with releases.exclusive(layout):
            outcome = releases.upgrade(layout, wheelhouse, version=args.version, python=args.python,
                                       services=_services(args), health_check=check, log=print)
    except releases.ReleaseError as exc:
        raise CliError(f"upgrade: {exc}", 1) from None
    print(outcome.message)
    return 0 if outcome.ok else 1


def _resume(layout: releases.Layout) -> int:
    """Run at boot by store-edge-resume.service, before the services: nothing runs yet, so no unit checks."""
    check = releases.doctor_health_check(layout, settle_s=0.0, systemctl=None)
    try:
        with releases.exclusive(layout):
            outcome = releases.resume(layout, health_check=check, log=print)
    except releases.ReleaseError as exc:
        raise CliError(f"upgrade --resume: {exc}", 1) from None
    print(outcome.message)
    return 0 if outcome.ok else 1


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    try:
        layout = _layout(args)
        with releases.exclusive(layout):
            outcome = releases.rollback(layout, services=_services(args), log=print,
                                        discard_since_upgrade=args.discard_since_upgrade)
    except releases.ReleaseError as exc:
        raise CliError(f"rollback: {exc}", 1) from None
    print(outcome.message)
    return 0 if outcome.ok else 1


def cmd_presence(args: argparse.Namespace, settings: Settings) -> int:
    """The presence service on a headless floor box: BLE adverts -> presence events, with sd_notify."""
    import asyncio
    import signal

    from edge.presence_runner import PresenceRunner

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        def say(words: str) -> None:
            sdnotify.status(words)

        runner = PresenceRunner(settings, settings.database_path, say, lambda: None)
        await runner.start()
        sdnotify.ready("presence running")
        interval = sdnotify.ping_interval_s() or 5.0
        while not stop.is_set():
            # ping from the loop itself: a wedged event loop stops the pings and systemd restarts us
            sdnotify.watchdog()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
        sdnotify.stopping()
        await runner.stop()

    asyncio.run(main())
    return 0


def _release_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default="/", help=argparse.SUPPRESS)  # a root prefix, for tests and image builds
    p.add_argument("--no-restart", action="store_true", help="do not stop/start the systemd services")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("doctor", help="check config, database, disk, clock, hub, outbox, devices, services",
                              description="Every check a technician needs, one line each: PASS, WARN or FAIL "
                                          "with a fix hint; exit 1 when any check fails.")
    p.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    p.add_argument("--data-dir", default=None, help="override the data directory")
    p.add_argument("--only", default="", help=f"comma-separated subset of: {','.join(doctor.ALL_CHECKS)}")
    p.set_defaults(handler=_doctor, settings=LAZY)

    p = subparsers.add_parser("upgrade", help="install a release from a wheelhouse; rolls back if unhealthy",
                              description="Install a release beside the running one, health-check it with its "
                                          "own doctor, switch to it, or roll back if it is unhealthy.")
    p.add_argument("--wheelhouse", default=None, help="directory made by 'make wheelhouse'")
    p.add_argument("--resume", action="store_true",
                   help="finish or undo an upgrade a power cut interrupted (run at boot by store-edge-resume)")
    p.add_argument("--version", default=None, help="release name (default: the store-edge wheel's version)")
    p.add_argument("--python", default="/usr/bin/python3", help="interpreter for the release's venv")
    p.add_argument("--settle", type=float, default=10.0, help="seconds to let services start before checking")
    _release_options(p)
    p.set_defaults(handler=cmd_upgrade)

    p = subparsers.add_parser("rollback", help="undo the last successful upgrade: previous release and database",
                              description="Go back to the previous release and its database, as they were "
                                          "before the last successful upgrade.")
    p.add_argument("--discard-since-upgrade", action="store_true",
                   help="accept losing the sales made since the upgrade on this till (their unsynced events "
                        "are still sent to the hub; the live database is kept in the backups directory)")
    _release_options(p)
    p.set_defaults(handler=cmd_rollback)

    p = subparsers.add_parser("presence", help="run the BLE presence service headless (systemd)",
                              description="The presence service of a headless floor box: BLE adverts in, "
                                          "presence events into the outbox, with systemd notifications.")
    p.add_argument("--data-dir", help="override the data directory")
    p.set_defaults(handler=cmd_presence)
