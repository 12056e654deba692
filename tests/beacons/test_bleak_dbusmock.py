"""bleak's real BlueZ backend against a private system bus running python-dbusmock's bluez5 template."""

from __future__ import annotations

import asyncio
import json
import shutil
import time

import pytest

dbus = pytest.importorskip("dbus")
dbusmock = pytest.importorskip("dbusmock")
from dbusmock.testcase import BusType, PrivateDBus, SpawnedMock  # noqa: E402

from devices.ble.base import ADAPTER_MISSING, RESETTING, SCANNING  # noqa: E402
from devices.ble.bleak_source import BleakSource  # noqa: E402
from edge.core.presence import DWELL, ENTER, EXIT, STORE_ZONE, PresenceConfig, PresenceEngine  # noqa: E402
from edge.db import open_database  # noqa: E402
from edge.store.presence_store import DEMO_TAG_UUID, PresenceService, save_rule, seed_demo_presence  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="dbus-daemon is not installed")

MOCK_IFACE = "org.bluez.Mock"
DEVICE_IFACE = "org.bluez.Device1"
PHONE = "AA:BB:CC:00:10:02"


class Bluez:
    """Drives the mock from the test (dbus-python, blocking calls into the mock process)."""

    def __init__(self, bus: PrivateDBus, mock: SpawnedMock) -> None:
        self.conn = BusType.SYSTEM.get_connection()
        self.mock = mock

    def add_adapter(self, name: str = "hci0") -> None:
        self.mock.obj.AddAdapter(name, "store-edge-test", dbus_interface=MOCK_IFACE)

    def remove_adapter(self, name: str = "hci0") -> None:
        self.mock.obj.RemoveAdapterWithDevices(name, dbus_interface=MOCK_IFACE)

    def add_device(self, address: str, name: str = "phone", adapter: str = "hci0") -> str:
        return str(self.mock.obj.AddDevice(adapter, address, name, dbus_interface=MOCK_IFACE))

    def update(self, path: str, rssi: int, manufacturer: dict[int, bytes]) -> None:
        obj = self.conn.get_object("org.bluez", path)
        obj.UpdateProperties(
            DEVICE_IFACE,
            {
                "RSSI": dbus.Int16(rssi),
                "ManufacturerData": dbus.Dictionary(
                    {dbus.UInt16(cid): dbus.ByteArray(data) for cid, data in manufacturer.items()}, signature="qv"
                ),
                # the template's default ServiceData is a list, which bleak rejects: set a dict
                "ServiceData": dbus.Dictionary({}, signature="sv"),
            },
            dbus_interface="org.freedesktop.DBus.Mock",
        )

    def powered(self, on: bool, adapter: str = "hci0") -> None:
        obj = self.conn.get_object("org.bluez", f"/org/bluez/{adapter}")
        obj.Set("org.bluez.Adapter1", "Powered", dbus.Boolean(on), dbus_interface="org.freedesktop.DBus.Properties")


@pytest.fixture
def bluez(monkeypatch):
    monkeypatch.delenv("DBUS_SYSTEM_BUS_ADDRESS", raising=False)
    with PrivateDBus(BusType.SYSTEM) as bus:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)  # restored after the test
        mock = SpawnedMock.spawn_with_template("bluez5")
        try:
            b = Bluez(bus, mock)
            b.add_adapter()
            yield b
        finally:
            mock.terminate()


def tag(minor: int) -> dict[int, bytes]:
    return {0x004C: b"\x02\x15" + bytes.fromhex(DEMO_TAG_UUID.replace("-", "")) + (100).to_bytes(2, "big")
            + minor.to_bytes(2, "big") + bytes([256 - 59])}  # fmt: skip


async def wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


def fast_source() -> BleakSource:
    return BleakSource("hci0", "active", quiet_restart_s=30.0, backoff_initial_s=0.1, backoff_cap_s=0.2,
                       check_interval_s=0.1, reset_off_s=0.05)  # fmt: skip


async def test_walk_in_gives_enter_dwell_exit_and_exactly_one_offer(bluez, tmp_path):
    db = open_database(tmp_path / "store.db")
    db["customers"].insert({"id": "C1002", "display_name": "Ana", "tier": "Gold", "consents": json.dumps({"location": True})})
    seed_demo_presence(db)
    db.execute("DELETE FROM presence_rules")
    save_rule(db, {"campaign_id": "DWELL", "trigger": "dwell", "dwell_min": 0.01, "valid_minutes": 10,
                   "offer": {"kind": "percent_off", "name": "Stay a while", "params": {"percent": 5}}})  # fmt: skip
    engine = PresenceEngine(PresenceConfig(exit_after_s=0.8, dwell_every_s=0.3))
    service = PresenceService(db, opening_hours="00:00-23:59", engine=engine)
    events = []
    service.event_listeners.append(events.append)
    source = fast_source()
    heard = []
    source.on_advert(heard.append)
    source.on_advert(service.handle_advert)
    async def ticker() -> None:  # the till calls tick about once a second; faster here
        while True:
            service.tick()
            await asyncio.sleep(0.05)

    await source.start()
    ticking = asyncio.create_task(ticker())
    try:
        await wait_for(lambda: source.status.state == SCANNING)
        path = bluez.add_device(PHONE)
        for rssi in (-92, -88, -80, -72, -64, -60, -58, -60, -59, -61, -58, -60):  # phone appears, RSSI rises
            bluez.update(path, rssi, tag(2))
            await asyncio.sleep(0.08)
        await wait_for(lambda: any(e.kind == DWELL for e in events), timeout=3)
        for rssi in (-59, -60, -58):  # dwells
            bluez.update(path, rssi, tag(2))
            await asyncio.sleep(0.15)
        # leaves: no more adverts; the silence ends the visit
        await wait_for(lambda: any(e.kind == EXIT for e in events), timeout=3)
    finally:
        ticking.cancel()
        await source.stop()
    assert heard and heard[-1].manufacturer_data[0x004C][20:22] == b"\x00\x02"
    store_kinds = [e.kind for e in events if e.zone == STORE_ZONE]
    assert store_kinds[0] == ENTER and DWELL in store_kinds and store_kinds[-1] == EXIT
    assert store_kinds.count(ENTER) == 1 and store_kinds.count(EXIT) == 1
    assert db.execute("SELECT count(*) FROM offers WHERE source = 'presence' AND customer_id = 'C1002'").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM outbox WHERE type = 'presence.notification_requested'").fetchone()[0] == 1
    assert db.execute("SELECT count(*) FROM outbox WHERE type = 'presence.visit'").fetchone()[0] == 1


async def test_adapter_removed_mid_scan_recovers(bluez):
    source = fast_source()
    states: list[str] = []
    source.on_status(lambda s: states.append(s.state))
    heard = []
    source.on_advert(heard.append)
    await source.start()
    try:
        await wait_for(lambda: source.status.state == SCANNING)
        bluez.remove_adapter()
        await wait_for(lambda: source.status.state == ADAPTER_MISSING)
        assert "hci0" in source.status.detail and ("removed" in source.status.detail or "not present" in source.status.detail)
        bluez.add_adapter()
        await wait_for(lambda: source.status.state == SCANNING and source.status.restarts >= 1)
        path = bluez.add_device("AA:BB:CC:00:10:09")
        bluez.update(path, -60, tag(9))
        await wait_for(lambda: bool(heard))
    finally:
        await source.stop()
    assert heard[0].address == "AA:BB:CC:00:10:09" and heard[0].rssi == -60
    assert states.index(ADAPTER_MISSING) < len(states) - 1 - states[::-1].index(SCANNING)


async def test_quiet_watchdog_restarts_then_resets_the_adapter(bluez):
    source = BleakSource("hci0", "active", quiet_restart_s=0.3, backoff_initial_s=0.05, check_interval_s=0.05,
                         reset_off_s=0.05)  # fmt: skip
    states: list[str] = []
    source.on_status(lambda s: states.append(s.state))
    await source.start()
    try:
        await wait_for(lambda: source.status.resets >= 1, timeout=6)
        await wait_for(lambda: source.status.state == SCANNING)
    finally:
        await source.stop()
    assert source.status.restarts >= 2
    assert RESETTING in states


async def test_powered_off_adapter_is_powered_back_on(bluez):
    source = fast_source()
    await source.start()
    try:
        await wait_for(lambda: source.status.state == SCANNING)
        bluez.powered(False)
        await wait_for(lambda: source.status.resets >= 1)
        await wait_for(lambda: source.status.state == SCANNING)
    finally:
        await source.stop()
    assert await source.probe.state() == "present"
    source.probe.close()
