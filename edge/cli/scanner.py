"""Technician commands: ``store-edge devices scan-decode | listen | list``.

Handlers follow ``edge.cli.common``: ``handler(args, settings) -> exit code``. ``register(devices_subparsers)``
adds the commands to the ``devices`` group (``edge/cli/devices.py``).

``scan-decode`` and ``listen`` decode exactly as the till does: the store's ``[barcode]`` settings (card and
coupon formats, variable-measure rules, region; ``--region`` overrides the region) and, without ``--keys``,
the hub's app-code keys already pulled into this device's database (read-only).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from devices.barcode.config import BIIP_RCN_REGIONS, BarcodeConfig
from devices.barcode.decode import decode_scan
from devices.barcode.loyalty_token import TokenVerifier
from devices.scanners.base import ScannerSource, ScannerStatus, make_scanner_source
from devices.scanners.config import ScannerConfig
from edge.cli.common import say
from edge.core.errors import CliError
from edge.settings import Settings

EXIT_OK, EXIT_NOT_UNDERSTOOD = 0, 2
LISTEN_OPEN_S = 3.0  # a scanner that does not open within this (several tries): listen says why and stops
REGIONS = sorted(BIIP_RCN_REGIONS)
# Ways a technician can type the GS (FNC1) separator on a command line.
_GS_SPELLINGS = ("\\x1d", "\\x1D", "<GS>", "{GS}", "<FNC1>", "{FNC1}")


def register(devices_subparsers: argparse._SubParsersAction) -> None:
    p = devices_subparsers.add_parser(
        "scan-decode", help="decode scanned data and print one JSON object (exit 0 understood, 2 not)",
        description="Decode a scan as the till does (the store's [barcode] settings and the hub's app-code keys "
                    "in this device's database) and print one JSON object; exit 0 understood, 2 not.",
    )
    p.add_argument("data", metavar="DATA", help="the scanned text; type GS as <GS> or \\x1d")
    p.add_argument(
        "--region", choices=REGIONS, help="country for variable-measure codes (default: barcode.rcn_region)"
    )
    p.add_argument(
        "--keys",
        type=Path,
        help="JSON file {kid: base64 Ed25519 public key} to check app codes (default: the keys in the database)",
    )
    p.set_defaults(handler=cmd_scan_decode)

    p = devices_subparsers.add_parser("listen", help="print each scan live, decoded, with timing",
                                      description="Read a serial or input-device scanner and print each scan as "
                                                  "one JSON line, decoded, with its delivery and decode times.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--serial", metavar="PORT", help="serial port or /dev/serial/by-id/... path")
    src.add_argument("--evdev", metavar="NAME", help="input device name or VID:PID (exclusive grab)")
    p.add_argument("--baud", type=int, help="serial baud rate (default from settings)")
    p.add_argument("--terminator", choices=["CR", "LF", "CRLF", "TAB"], help="end-of-scan character")
    p.add_argument("--count", type=int, default=0, help="stop after this many scans (0: until Ctrl+C)")
    p.add_argument(
        "--region", choices=REGIONS, help="country for variable-measure codes (default: barcode.rcn_region)"
    )
    p.set_defaults(handler=cmd_listen)

    p = devices_subparsers.add_parser("list", help="list serial ports, HID input devices and BLE adapters",
                                      description="Serial ports (with their by-id names), keyboard-like input "
                                                  "devices (scanner or keyboard, and why) and BLE adapters.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_list)


# --- scan-decode ---------------------------------------------------------------------------------------
def _unescape(data: str) -> str:
    for spelling in _GS_SPELLINGS:
        data = data.replace(spelling, "\x1d")
    return data


def _load_verifier(path: Path | None) -> TokenVerifier | None:
    if path is None:
        return None
    raw = json.loads(path.read_text())
    return TokenVerifier({str(k): base64.b64decode(v) for k, v in raw.items()})


def barcode_config(settings: Settings | None, region: str | None = None) -> BarcodeConfig:
    """The till's decoder config: the store's [barcode] settings, with ``region`` (--region) winning."""
    if settings is None:
        config = BarcodeConfig()
        gs = "\x1d"
    else:
        config = settings.barcode.to_config()
        gs = settings.scanner.gs_separator
    changes: dict[str, Any] = {"gs_separators": tuple({"\x1d", gs} - {""})}
    if region:
        changes["rcn_region"] = region
    return dataclasses.replace(config, **changes)


def database_verifier(settings: Settings | None) -> TokenVerifier | None:
    """The hub keys the till already pulled (``token_keys``), read-only; None when there is no database."""
    if settings is None or not settings.database_path.exists():
        return None
    from edge.db.connection import open_database
    from edge.store.repository import Repository

    try:
        db = open_database(settings.database_path, migrate=False, readonly=True)
    except Exception:  # a damaged or newer database: decode without keys, the error says so
        return None
    try:
        keys = Repository(db).token_keys()
    except Exception:  # an old schema without the token_keys table
        return None
    finally:
        db.close()
    return TokenVerifier(keys) if keys else None


def scan_decode(
    data: str,
    region: str | None = None,
    keys: Path | None = None,
    gs: str = "\x1d",
    settings: Settings | None = None,
) -> dict[str, Any]:
    config = barcode_config(settings, region)
    if gs and gs not in config.gs_separators:
        config = dataclasses.replace(config, gs_separators=(*config.gs_separators, gs))
    try:
        verifier = _load_verifier(keys) if keys is not None else database_verifier(settings)
    except (OSError, ValueError) as exc:
        result = decode_scan(_unescape(data), config=config).to_json()
        result["error"] = f"Could not read the key file {keys}: {exc}"
        return result
    return decode_scan(_unescape(data), config=config, token_verifier=verifier).to_json()


def _exit_code(result: dict[str, Any]) -> int:
    return EXIT_OK if result["kind"] != "unknown" and result["error"] is None else EXIT_NOT_UNDERSTOOD


def cmd_scan_decode(args: argparse.Namespace, settings: Settings | None = None) -> int:
    result = scan_decode(args.data, args.region, args.keys, settings=settings)
    say(args, json.dumps(result, ensure_ascii=False))
    return _exit_code(result)


def main_scan_decode(argv: Sequence[str], settings: Settings | None = None) -> int:
    """``store-edge devices scan-decode DATA [--region R] [--keys FILE]`` with the given ``settings`` (None: the
    defaults, no database) instead of the configured ones (tests, scripts)."""
    from edge.cli.main import build_parser

    args = build_parser().parse_args(["devices", "scan-decode", *argv])
    return cmd_scan_decode(args, settings)


# --- listen ----------------------------------------------------------------------------------------------
def cmd_listen(args: argparse.Namespace, settings: Settings | None = None) -> int:
    base = settings.scanner if settings is not None else ScannerConfig()
    changes: dict[str, Any] = {}
    if args.serial:
        changes.update(serial_port=args.serial, evdev="")
    if args.evdev:
        changes.update(evdev=args.evdev, serial_port="")
    if args.baud:
        changes["baud"] = args.baud
    if args.terminator:
        changes["terminator"] = args.terminator
    scanner = dataclasses.replace(base, **changes)
    if not scanner.serial_port and not scanner.evdev:
        raise CliError("give --serial PORT or --evdev NAME (or set scanner.serial_port)", 2)
    if scanner.serial_port and not os.path.exists(scanner.serial_port):
        raise CliError(f"no serial port {scanner.serial_port}: 'store-edge devices list' shows the ports "
                       "this machine has", 2)  # fmt: skip
    try:
        config = barcode_config(settings, args.region)
        return asyncio.run(_listen(scanner, args.count, config, database_verifier(settings)))
    except KeyboardInterrupt:
        return 0


async def _listen(
    scanner: ScannerConfig, count: int, config: BarcodeConfig, verifier: TokenVerifier | None = None
) -> int:
    source = make_scanner_source(scanner)
    opened = asyncio.Event()

    def status(s: ScannerStatus) -> None:
        print(f"# {s.label}: {s.detail}", flush=True)
        if s.state == "connected":
            opened.set()  # from now on an unplugged scanner is waited for, as the till does

    source.on_status(status)
    await source.start()
    reading = asyncio.ensure_future(_print_scans(source, count, config, verifier))
    try:
        try:
            await asyncio.wait_for(opened.wait(), LISTEN_OPEN_S)
        except TimeoutError:
            why = source.status.detail.split("; trying again")[0].rstrip(".") or f"{source.name} did not open"
            raise CliError(f"{why}: gave up after {LISTEN_OPEN_S:g} s of tries; check the cable and the port "
                           "('store-edge devices list')", 1) from None  # fmt: skip
        return await reading
    finally:
        reading.cancel()
        await source.stop()


async def _print_scans(source: ScannerSource, count: int, config: BarcodeConfig, verifier: TokenVerifier | None) -> int:
    """Print each scan decoded, with timing, one JSON line each; 0 after ``count`` scans (0: until stopped)."""
    seen = 0
    async for scan in source.scans():
        delivered = time.monotonic()
        t0 = time.perf_counter()
        result = decode_scan(scan.text, symbology=scan.aim_id, config=config, token_verifier=verifier)
        decode_ms = (time.perf_counter() - t0) * 1000
        line = {
            "at": time.strftime("%H:%M:%S"),
            "delivery_ms": round((delivered - scan.received_at) * 1000, 3),
            "decode_ms": round(decode_ms, 3),
            **result.to_json(),
        }
        print(json.dumps(line, ensure_ascii=False), flush=True)
        seen += 1
        if count and seen >= count:
            break
    return 0


# --- list ---------------------------------------------------------------------------------------------
def collect_devices(
    roles: Mapping[str, str] | None = None, proc_devices: str = "/proc/bus/input/devices"
) -> dict[str, Any]:
    """``roles`` is scanner.device_roles: the technician's marks win over auto-detection."""
    from devices.scanners.detect import classify, list_ble_adapters, list_input_devices, serial_by_id_names

    ports: list[dict[str, Any]] = []
    by_id = serial_by_id_names()
    try:
        from serial.tools import list_ports

        for port in sorted(list_ports.comports(), key=lambda p: p.device):
            ports.append(
                {
                    "device": port.device,
                    "by_id": by_id.get(port.device, []),
                    "description": port.description,
                    "vid_pid": f"{port.vid:04x}:{port.pid:04x}"
                    if port.vid is not None and port.pid
                    else None,
                }
            )
    except ImportError:
        pass
    hid = [
        {"name": d.name, "vid_pid": d.vid_pid, "node": d.event_node, "role": classify(d, roles)}
        for d in list_input_devices(proc_devices)
        if "kbd" in d.handlers
    ]
    return {"serial_ports": ports, "hid_input_devices": hid, "ble_adapters": list_ble_adapters()}


def cmd_list(args: argparse.Namespace, settings: Settings | None = None) -> int:
    found = collect_devices(settings.scanner.device_roles if settings is not None else None)
    if getattr(args, "json", False):
        print(json.dumps(found))
        return 0
    print("Serial ports:")
    for p in found["serial_ports"] or [{"device": "(none)", "by_id": [], "description": ""}]:
        print(f"  {p['device']}  {p.get('description') or ''}")
        for link in p["by_id"]:
            print(f"      {link}")
    print("HID input devices (keyboards and keyboard-like scanners):")
    for d in found["hid_input_devices"] or [{"name": "(none)", "vid_pid": "", "node": "", "role": ""}]:
        print(f"  [{d['role']}] {d['name']}  {d['vid_pid']}  {d['node'] or ''}")
    print("BLE adapters:")
    for a in found["ble_adapters"] or ["(none)"]:
        print(f"  {a}")
    return 0
