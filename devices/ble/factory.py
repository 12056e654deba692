"""Choose the advert source from the ``[ble]`` settings, or from a command-line override."""

from __future__ import annotations

from pathlib import Path

from devices.ble.base import BleSource
from devices.ble.config import BleConfig, SourceConfigError

__all__ = ["SourceConfigError", "make_ble_source"]


def make_ble_source(ble: BleConfig, override: str | None = None) -> BleSource:
    """The advert source for ``ble`` (the ``[ble]`` settings, already checked on construction).

    ``override``: ``replay:PATH`` / a ``.jsonl`` path (optionally ``@SPEED``, e.g. ``demo.jsonl@1``: 1 = real
    time, 0 = as fast as possible), or ``bleak`` / ``bleak:ADAPTER``. Raises ``SourceConfigError`` when BLE is
    disabled without an override, or the override names a missing file or an unknown source.
    """
    adapter = ble.adapter
    if override:
        if override.startswith("replay:") or override.endswith(".jsonl") or "@" in override:
            from devices.ble.replay_source import ReplaySource

            spec = override.removeprefix("replay:")
            path_text, _, speed_text = spec.partition("@")
            try:
                speed = float(speed_text) if speed_text else 0.0
            except ValueError:
                raise SourceConfigError(f"replay speed {speed_text!r} is not a number (use e.g. FILE@1)") from None
            path = Path(path_text)
            if not path.is_file():
                raise SourceConfigError(f"replay file {path} does not exist")
            return ReplaySource(path, speed=speed)
        if override == "bleak" or override.startswith("bleak:"):
            adapter = override.partition(":")[2] or adapter
        else:
            raise SourceConfigError(f"unknown BLE source {override!r}: use replay:FILE.jsonl or bleak:hci0")
    elif not ble.enabled:
        raise SourceConfigError("BLE is disabled: set [ble] enabled = true, or give a replay file")
    from devices.ble.bleak_source import BleakSource

    return BleakSource(adapter, ble.mode, quiet_restart_s=ble.quiet_restart_s, backoff_cap_s=ble.backoff_cap_s,
                       reset_after_failures=ble.reset_after_failures)
