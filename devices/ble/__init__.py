"""BLE advert sources behind one interface (:class:`BleSource`), chosen by :func:`make_ble_source`."""

from devices.ble.base import BleSource, SourceStatus
from devices.ble.factory import SourceConfigError, make_ble_source

__all__ = ["BleSource", "SourceConfigError", "SourceStatus", "make_ble_source"]
