"""The sub-command groups contributed by other packages, wired in one place."""

from __future__ import annotations

import argparse
from collections.abc import Callable

Register = Callable[[argparse._SubParsersAction], None]


def register_devices(subparsers: argparse._SubParsersAction) -> None:
    from devices import scanner_cli

    group = subparsers.add_parser("devices", help="scanners, barcodes and BLE beacons")
    devices_sub = group.add_subparsers(dest="devices_command", metavar="DEVICES_COMMAND")
    scanner_cli.register(devices_sub)


def registrations() -> list[Register]:
    return [register_devices]
