"""`store-edge devices beacon-decode | ble-watch | ble-record`: the technician's beacon tools.

``register(devices_subparsers)`` adds the three sub-commands; each handler is ``handler(args, settings)``
(``edge.cli.common``). They read the settings themselves (``settings=LAZY``): decoding needs none, and a broken
config must not stop a technician from listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

from devices.beacons.adverts import Advert, full_uuid
from devices.beacons.frames import BeaconFrame, decode_advert, split_ad_structures
from devices.beacons.identity import beacon_key
from edge.cli.common import LAZY, out
from edge.core.errors import CliError
from edge.settings import Settings

EXIT_OK, EXIT_NOT_RECOGNISED = 0, 2
EXIT_NO_SCAN = 1  # ble-record: the adapter or bluetoothd was never usable


def register(devices_subparsers: Any) -> None:
    p = devices_subparsers.add_parser(
        "beacon-decode",
        help="decode beacon advert data given in hex; prints one JSON object",
        description="Decode BLE advertising data given in hex and print one JSON object. Exit 0 when a beacon "
                    "was recognised, 2 when not.",
    )
    p.add_argument("--manufacturer", action="append", default=[], metavar="CID=HEX",
                   help="manufacturer data: 4 hex digits of the company id = the payload after it (as bleak gives it)")
    p.add_argument("--service", action="append", default=[], metavar="UUID=HEX",
                   help="service data: 16-bit or 128-bit service UUID = payload")
    p.add_argument("--raw", action="append", default=[], metavar="HEX",
                   help="the whole advertising data: length-type-value AD structures")
    p.set_defaults(handler=cmd_beacon_decode, settings=LAZY)

    for name, helptext in (
        ("ble-watch", "list what is heard, live, with smoothed RSSI"),
        ("ble-record", "record adverts from the adapter to a JSON Lines replay file"),
    ):
        q = devices_subparsers.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:] + ".")
        if name == "ble-record":
            q.add_argument("out", type=Path, metavar="OUT.jsonl", help="the replay file to write")
        q.add_argument("--source", default=None, help="bleak[:ADAPTER] or replay:FILE.jsonl[@SPEED]")
        q.add_argument("--adapter", default=None, help="adapter name (default from [ble] adapter)")
        q.add_argument("--mode", choices=("passive", "active"), default=None,
                       help="passive: listen only; active: also ask for scan responses (default from [ble] mode)")
        q.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: until Ctrl-C)")
        if name == "ble-watch":
            q.add_argument("--interval", type=float, default=1.0, help="refresh period in seconds")
        q.set_defaults(handler=cmd_ble_watch if name == "ble-watch" else cmd_ble_record, settings=LAZY)  # fmt: skip


# -- beacon-decode ---------------------------------------------------------------------------------


def _hex(text: str, what: str) -> bytes:
    cleaned = text.strip().replace(" ", "").replace(":", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not hex (two digits per byte)") from None


def decode_arguments(manufacturer: list[str], service: list[str], raw: list[str]) -> BeaconFrame:
    """The command's logic, without printing: a frame (with ``error`` set for bad input)."""
    m: dict[int, bytes] = {}
    s: dict[str, bytes] = {}
    raw_error: str | None = None
    try:
        for item in manufacturer:
            cid, sep, payload = item.partition("=")
            if not sep or len(cid.strip()) != 4:
                raise ValueError(f"--manufacturer {item!r} must be CID=HEX with a 4-hex-digit company id")
            m[int.from_bytes(_hex(cid, "company id"), "big")] = _hex(payload, "manufacturer payload")
        for item in service:
            uuid, sep, payload = item.partition("=")
            u = uuid.strip().lower().removeprefix("0x").replace("-", "")
            if not sep or len(u) not in (4, 32):
                raise ValueError(f"--service {item!r} must be UUID=HEX with a 16-bit (4 hex) or 128-bit UUID")
            _hex(u, "service UUID")
            s[full_uuid(u)] = _hex(payload, "service payload")
        for item in raw:
            ads = split_ad_structures(_hex(item, "--raw"))
            m.update(ads.manufacturer_data)
            s.update(ads.service_data)
            raw_error = raw_error or ads.error
    except ValueError as exc:
        return BeaconFrame(error=str(exc))
    if not (m or s):
        return BeaconFrame(error=raw_error or "nothing to decode: give --manufacturer, --service or --raw")
    frame = decode_advert(m, s)
    if frame.format is None and raw_error:
        return BeaconFrame(error=raw_error)
    return frame


def cmd_beacon_decode(args: argparse.Namespace, settings: Settings | None = None) -> int:
    frame = decode_arguments(args.manufacturer, args.service, args.raw)
    print(json.dumps(frame.as_dict(), sort_keys=False), file=out(args))
    return EXIT_OK if frame.recognised else EXIT_NOT_RECOGNISED


# -- ble-watch / ble-record ------------------------------------------------------------------------


def _source(args: argparse.Namespace) -> Any:
    import dataclasses

    from devices.ble.config import BleConfig
    from devices.ble.factory import make_ble_source
    from edge.cli.common import load_for
    from edge.settings import ConfigError

    try:
        ble = load_for(args).ble
    except ConfigError:  # a broken config must not stop a technician from listening
        ble = BleConfig()
    overrides = {k: v for k, v in (("adapter", args.adapter), ("mode", args.mode)) if v}
    if overrides:
        ble = dataclasses.replace(ble, **overrides)
    ble = dataclasses.replace(ble, enabled=True)  # asking for a watch/record is the enabling
    return make_ble_source(ble, args.source)


async def _run_for(source: Any, duration: float, every: float, on_tick: Any) -> None:
    from devices.ble.base import FAILED, FINISHED

    await source.start()
    started = time.monotonic()
    try:
        while duration <= 0 or time.monotonic() - started < duration:
            await asyncio.sleep(every)
            on_tick()
            if source.status.state in (FINISHED, FAILED):
                break
    finally:
        await source.stop()


def _source_or_error(args: argparse.Namespace) -> Any:
    from devices.ble.factory import SourceConfigError

    try:
        return _source(args)
    except SourceConfigError as exc:
        raise CliError(str(exc), 1) from None


def cmd_ble_watch(args: argparse.Namespace, settings: Settings | None = None) -> int:
    from edge.core.presence import RssiKalman, rssi_at_1m, rssi_to_distance

    stream = out(args)
    source = _source_or_error(args)
    seen: dict[str, tuple[Advert, BeaconFrame, RssiKalman]] = {}

    def on_advert(advert: Advert) -> None:
        frame = decode_advert(advert.manufacturer_data, advert.service_data)
        entry = seen.get(advert.address)
        kalman = entry[2] if entry else RssiKalman(4.0, 0.5)
        if advert.rssi is not None:
            kalman.update(advert.rssi, advert.time)
        seen[advert.address] = (advert, frame, kalman)

    def on_status(status: Any) -> None:
        print(f"[{status.state}] {status.detail}", file=stream, flush=True)

    def show() -> None:
        if not seen:
            return
        print(f"-- {time.strftime('%H:%M:%S')}  {len(seen)} device(s)", file=stream)
        print(f"{'address':17}  {'format':14}  {'rssi':>5}  {'smooth':>6}  {'dist m':>6}  id", file=stream)
        for address, (advert, frame, kalman) in sorted(seen.items(), key=lambda kv: -(kv[1][2].estimate or -200)):
            smooth = kalman.estimate
            dist = rssi_to_distance(smooth, rssi_at_1m(frame.format, frame.tx_power)) if smooth is not None else None
            ident = beacon_key(frame) or (f"eid:{frame.eid}" if frame.eid else (frame.url or advert.local_name or ""))
            print(
                f"{address:17}  {frame.format or '-':14}  {advert.rssi if advert.rssi is not None else '-':>5}  "
                f"{f'{smooth:.1f}' if smooth is not None else '-':>6}  {f'{dist:.1f}' if dist is not None else '-':>6}  {ident}",
                file=stream,
                flush=True,
            )

    source.on_advert(on_advert)
    source.on_status(on_status)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_run_for(source, args.duration, max(0.05, args.interval), show))
    return 0


def cmd_ble_record(args: argparse.Namespace, settings: Settings | None = None) -> int:
    stream = out(args)
    source = _source_or_error(args)
    try:
        fh = args.out.open("w", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {args.out}: {exc.strerror}", 1) from None
    count = 0
    t0: list[float] = []

    def on_advert(advert: Advert) -> None:
        nonlocal count
        if not t0:
            t0.append(advert.time)
        # times are relative to the first advert: the file replays the same on any machine
        rel = Advert(advert.time - t0[0], advert.address, advert.rssi, advert.manufacturer_data,
                     advert.service_data, advert.local_name)  # fmt: skip
        fh.write(rel.to_json() + "\n")
        count += 1

    from devices.ble.base import ADAPTER_MISSING, FAILED, FINISHED, SCANNING

    # a recording that never got the adapter scanning is a broken setup, not a quiet shop: say so
    scanned: list[bool] = []
    trouble: list[str] = []

    def on_status(status: Any) -> None:
        print(f"[{status.state}] {status.detail}", file=stream, flush=True)
        if status.state in (SCANNING, FINISHED):
            scanned.append(True)
        elif status.state in (ADAPTER_MISSING, FAILED):
            trouble.append(status.detail)

    source.on_advert(on_advert)
    source.on_status(on_status)
    try:
        asyncio.run(_run_for(source, args.duration, 0.5, fh.flush))
    except KeyboardInterrupt:
        pass
    finally:
        fh.close()
    print(f"recorded {count} advert(s) to {args.out}", file=stream)
    if count == 0 and not scanned:
        why = trouble[-1] if trouble else "the adapter never started scanning"
        raise CliError(f"nothing was recorded because the scan never ran: {why}", EXIT_NO_SCAN)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``store-edge devices ARGV...`` through the one dispatcher (tests, scripts)."""
    from edge.cli.main import main as store_edge

    return store_edge(["devices", *(argv or [])])
