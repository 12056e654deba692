"""BLE advert sources behind one interface (:class:`BleSource`), chosen by :func:`make_ble_source`.

The names are loaded on first use: the settings import ``devices.ble.config`` at start-up and must not pay for
the sources there.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from devices.ble.base import BleSource, SourceStatus
    from devices.ble.factory import SourceConfigError, make_ble_source

__all__ = ["BleSource", "SourceConfigError", "SourceStatus", "make_ble_source"]


def __getattr__(name: str) -> Any:
    if name in ("BleSource", "SourceStatus"):
        from devices.ble import base

        return getattr(base, name)
    if name in ("SourceConfigError", "make_ble_source"):
        from devices.ble import factory

        return getattr(factory, name)
    raise AttributeError(name)
