"""Live adverts from BlueZ through one long-lived ``BleakScanner``, with recovery and a quiet watchdog.

Known BlueZ behaviour this module is built around:

- the kernel de-duplicates adverts, so callbacks are sparse: we only pass on what we get, and presence
  downstream rests on last-seen times;
- RSSI -127 means "no reading" (normalised to None);
- ``StartDiscovery`` can fail with ``InProgress`` / ``NotReady``, adapters get unplugged and re-plugged or
  power-cycled: the scan is restarted with exponential backoff, and after repeated failures the adapter is
  reset (powered off and on through org.bluez);
- some adapters silently stop reporting after hours: when nothing has been heard for ``quiet_restart_s``
  the watchdog restarts the scan, and if it stays quiet for another period, resets the adapter.

Passive scanning (the default, no scan requests sent) needs BlueZ's AdvertisementMonitor API with
``or_patterns``; we register patterns for iBeacon, AltBeacon and Eddystone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from devices.beacons.adverts import Advert, normalise_rssi
from devices.ble.base import (
    ADAPTER_MISSING,
    FAILED,
    RECOVERING,
    RESETTING,
    SCANNING,
    STARTING,
    STOPPED,
    BleSource,
)

log = logging.getLogger(__name__)

BLUEZ = "org.bluez"
ADAPTER_IFACE = "org.bluez.Adapter1"
PROPS_IFACE = "org.freedesktop.DBus.Properties"
PRESENT, POWERED_OFF, MISSING, NO_BLUEZ = "present", "powered-off", "missing", "no-bluez"


def passive_patterns() -> list[Any]:
    """AdvertisementMonitor or-patterns matching the beacon formats we parse."""
    from bleak.args.bluez import OrPattern
    from bleak.assigned_numbers import AdvertisementDataType

    return [
        OrPattern(0, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, b"\x4c\x00\x02\x15"),  # iBeacon
        OrPattern(2, AdvertisementDataType.MANUFACTURER_SPECIFIC_DATA, b"\xbe\xac"),  # AltBeacon, any company
        OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, b"\xaa\xfe"),  # Eddystone
    ]


class AdapterProbe:
    """Asks BlueZ about one adapter over its public D-Bus API, and power-cycles it when told to."""

    def __init__(self, adapter: str) -> None:
        self.adapter = adapter
        self.path = f"/org/bluez/{adapter}"
        self._bus: Any = None

    async def _connect(self) -> Any:
        from dbus_fast import BusType
        from dbus_fast.aio import MessageBus

        if self._bus is None or not self._bus.connected:
            self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        return self._bus

    async def _call(self, member: str, signature: str, body: list[Any]) -> Any:
        from dbus_fast import Message

        bus = await self._connect()
        return await bus.call(
            Message(
                destination=BLUEZ, path=self.path, interface=PROPS_IFACE, member=member, signature=signature, body=body
            )
        )

    async def state(self) -> str:
        from dbus_fast import MessageType

        try:
            reply = await asyncio.wait_for(self._call("Get", "ss", [ADAPTER_IFACE, "Powered"]), 5.0)
        except (OSError, EOFError, TimeoutError, ValueError) as exc:
            log.debug("adapter probe failed: %r", exc)
            self._bus = None
            return NO_BLUEZ
        if reply.message_type == MessageType.ERROR:
            if reply.error_name in ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"):
                return NO_BLUEZ
            return MISSING
        return PRESENT if reply.body[0].value else POWERED_OFF

    async def set_powered(self, on: bool) -> bool:
        from dbus_fast import MessageType, Variant

        try:
            reply = await asyncio.wait_for(self._call("Set", "ssv", [ADAPTER_IFACE, "Powered", Variant("b", on)]), 10.0)
        except (OSError, EOFError, TimeoutError, ValueError):
            self._bus = None
            return False
        return bool(reply.message_type != MessageType.ERROR)

    async def reset(self, off_s: float = 1.0) -> bool:
        """Power-cycle the adapter (what `bluetoothctl power off; power on` does)."""
        await self.set_powered(False)
        await asyncio.sleep(off_s)
        return await self.set_powered(True)

    def close(self) -> None:
        if self._bus is not None:
            self._bus.disconnect()
            self._bus = None


def describe_error(exc: BaseException) -> str:
    from bleak.exc import BleakDBusError

    if isinstance(exc, BleakDBusError):
        name = exc.dbus_error.rsplit(".", 1)[-1]
        hint = {
            "InProgress": "BlueZ is still busy with a previous scan",
            "NotReady": "the adapter is not ready (powering up or blocked by rfkill)",
            "UnknownObject": "the adapter disappeared",
        }.get(name, exc.dbus_error_details or "")
        return f"{name}: {hint}" if hint else name
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class BleakSource(BleSource):
    def __init__(
        self,
        adapter: str = "hci0",
        mode: str = "passive",
        *,
        quiet_restart_s: float = 120.0,
        backoff_initial_s: float = 1.0,
        backoff_cap_s: float = 30.0,
        reset_after_failures: int = 3,
        check_interval_s: float = 2.0,
        reset_off_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        if mode not in ("passive", "active"):
            raise ValueError(f"BLE scan mode must be 'passive' or 'active', got {mode!r}")
        self.adapter, self.mode = adapter, mode
        self.quiet_restart_s = quiet_restart_s
        self.backoff_initial_s, self.backoff_cap_s = backoff_initial_s, backoff_cap_s
        self.reset_after_failures = reset_after_failures
        self.check_interval_s = check_interval_s
        self.reset_off_s = reset_off_s
        self.clock = clock
        self.probe = AdapterProbe(adapter)
        self._scanner: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._last_advert = 0.0
        self._restarts = 0
        self._resets = 0

    def _make_scanner(self) -> Any:
        from bleak import BleakScanner

        bluez: dict[str, Any] = {"adapter": self.adapter}
        if self.mode == "passive":
            bluez["or_patterns"] = passive_patterns()
        # one scanner for the life of the source: restarts reuse it instead of piling up D-Bus matches
        return BleakScanner(self._on_detection, scanning_mode=self.mode, bluez=bluez)  # type: ignore[arg-type]

    def _on_detection(self, device: Any, data: Any) -> None:
        self._last_advert = self.clock()
        self._emit(
            Advert(
                time=self._last_advert,
                address=str(getattr(device, "address", "")),
                rssi=normalise_rssi(data.rssi),
                manufacturer_data=dict(data.manufacturer_data),
                service_data={k.lower(): bytes(v) for k, v in data.service_data.items()},
                local_name=data.local_name,
                tx_power=data.tx_power,
            )
        )

    async def start(self) -> None:
        if self._task is not None:
            return
        self._stopping.clear()
        try:
            self._scanner = self._make_scanner()
        except Exception as exc:  # bleak refuses its arguments: nothing to retry
            self._set_status(FAILED, f"cannot create the BLE scanner: {describe_error(exc)}")
            return
        self._task = asyncio.create_task(self._run(), name=f"ble-scan-{self.adapter}")

    async def stop(self) -> None:
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.probe.close()
        self._set_status(STOPPED, "scanning stopped")

    def _backoff(self, failures: int) -> float:
        return float(min(self.backoff_cap_s, self.backoff_initial_s * 2 ** max(0, failures - 1)))

    async def _pause(self, seconds: float) -> bool:
        """Sleep unless stopped; True when stop was requested."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
            return True
        except TimeoutError:
            return False

    async def _reset_adapter(self, why: str) -> None:
        self._resets += 1
        self._set_status(RESETTING, f"resetting adapter {self.adapter}: {why}", resets=self._resets)
        ok = await self.probe.reset(self.reset_off_s)
        if not ok:
            log.warning("power-cycling %s failed", self.adapter)

    async def _run(self) -> None:
        failures = 0
        quiet_strikes = 0
        while not self._stopping.is_set():
            state = await self.probe.state()
            if state in (MISSING, NO_BLUEZ):
                failures += 1
                delay = self._backoff(failures)
                what = (
                    f"Bluetooth adapter {self.adapter} is not present; plug it in (checking again in {delay:.0f} s)"
                    if state == MISSING
                    else f"the Bluetooth service (bluetoothd) is not running; start it (checking again in {delay:.0f} s)"
                )
                self._set_status(ADAPTER_MISSING, what)
                if await self._pause(delay):
                    break
                continue
            if state == POWERED_OFF:
                await self._reset_adapter("it was powered off")
            self._set_status(STARTING, f"starting {self.mode} scan on {self.adapter}")
            try:
                await self._scanner.start()
            except Exception as exc:
                failures += 1
                delay = self._backoff(failures)
                self._set_status(
                    RECOVERING, f"scan on {self.adapter} could not start ({describe_error(exc)}); retrying in {delay:.0f} s"
                )
                if failures % self.reset_after_failures == 0:
                    await self._reset_adapter(f"{failures} failed starts in a row")
                if await self._pause(delay):
                    break
                continue
            failures = 0
            self._last_advert = self.clock()
            self._set_status(SCANNING, f"scanning on {self.adapter} ({self.mode})", restarts=self._restarts)
            heard_before = self.status.adverts
            reason = await self._supervise()
            with contextlib.suppress(Exception):  # the adapter may already be gone
                await self._scanner.stop()
            if reason == "stop":
                break
            self._restarts += 1
            if reason == "quiet":
                quiet_strikes = quiet_strikes + 1 if self.status.adverts == heard_before else 1
                if quiet_strikes >= 2:
                    quiet_strikes = 0
                    await self._reset_adapter(f"nothing heard for {self.quiet_restart_s:.0f} s even after a restart")
                else:
                    self._set_status(
                        RECOVERING,
                        f"nothing heard for {self.quiet_restart_s:.0f} s; restarting the scan",
                        restarts=self._restarts,
                    )
            elif reason == MISSING:
                self._set_status(
                    ADAPTER_MISSING,
                    f"Bluetooth adapter {self.adapter} was removed (unplugged?); waiting for it to come back",
                    restarts=self._restarts,
                )
            else:
                self._set_status(RECOVERING, f"adapter {self.adapter} {reason}; restarting the scan", restarts=self._restarts)
            if await self._pause(min(self.backoff_initial_s, 1.0)):
                break

    async def _supervise(self) -> str:
        while True:
            if await self._pause(self.check_interval_s):
                return "stop"
            state = await self.probe.state()
            if state != PRESENT:
                return {MISSING: MISSING, POWERED_OFF: POWERED_OFF}.get(state, "lost its service")
            if self.clock() - self._last_advert > self.quiet_restart_s:
                return "quiet"
