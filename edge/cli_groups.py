"""The sub-command groups contributed by other packages, wired in one place."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Register = Callable[[argparse._SubParsersAction], None]


def register_devices(subparsers: argparse._SubParsersAction) -> None:
    from devices import beacon_cli, scanner_cli

    group = subparsers.add_parser("devices", help="scanners, barcodes and BLE beacons")
    devices_sub = group.add_subparsers(dest="devices_command", metavar="DEVICES_COMMAND")
    scanner_cli.register(devices_sub)
    before = set(devices_sub.choices)
    beacon_cli.register(devices_sub)
    for name in set(devices_sub.choices) - before:
        # beacon commands take (args) only; every handler here is called as handler(args, settings)
        parser = devices_sub.choices[name]
        plain = parser.get_default("handler")
        parser.set_defaults(handler=lambda args, settings, plain=plain: plain(args))


def register_sync_groups(subparsers: argparse._SubParsersAction) -> None:
    from sync import cli as sync_cli

    sync_cli.register_sync(subparsers)
    sync_cli.register_hub(subparsers)
    sync_cli.register_enroll(subparsers)


def register_ops(subparsers: argparse._SubParsersAction) -> None:
    from edge.ops import cli as ops_cli

    ops_cli.register(subparsers)


def register_simulate(subparsers: argparse._SubParsersAction) -> None:
    from edge.simulate import cli as simulate_cli

    simulate_cli.register(subparsers)


def registrations() -> list[Register]:
    return [register_devices, register_sync_groups, register_ops, register_simulate]
