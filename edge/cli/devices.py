"""``store-edge devices ...``: the technician's scanner, barcode and beacon tools in one group."""

from __future__ import annotations

import argparse

from edge.cli import beacons, scanner


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``devices`` and its commands (``scanner.register``, ``beacons.register``) to ``subparsers``."""
    group = subparsers.add_parser("devices", help="scanners, barcodes and BLE beacons",
                                  description="Technician tools: decode scans and adverts, watch a scanner or the "
                                              "BLE adapter live, list the devices this box can see.")
    devices_sub = group.add_subparsers(dest="devices_command", metavar="DEVICES_COMMAND")
    scanner.register(devices_sub)
    beacons.register(devices_sub)
    return group
