"""Choose the advert source from settings, or from a command-line override."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devices.ble.base import BleSource


class SourceConfigError(ValueError):
    """The requested BLE source cannot be built; the message says what to change."""


def make_ble_source(settings: Any, override: str | None = None) -> BleSource:
    """``settings``: the app Settings (or its BleSettings). ``override``: ``replay:PATH`` / a ``.jsonl``
    path (optionally ``@SPEED``, e.g. ``demo.jsonl@1``), or ``bleak`` / ``bleak:ADAPTER``."""
    ble = getattr(settings, "ble", settings)
    adapter = str(getattr(ble, "adapter", "hci0"))
    mode = str(getattr(ble, "mode", "passive"))
    quiet = float(getattr(ble, "quiet_restart_s", 120.0))
    backoff_cap = float(getattr(ble, "backoff_cap_s", 30.0))
    reset_after = int(getattr(ble, "reset_after_failures", 3))
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
    elif not getattr(ble, "enabled", True):
        raise SourceConfigError("BLE is disabled: set [ble] enabled = true, or give a replay file")
    if mode not in ("passive", "active"):
        raise SourceConfigError(f"[ble] mode must be passive or active, got {mode!r}")
    from devices.ble.bleak_source import BleakSource

    if backoff_cap <= 0:
        raise SourceConfigError(f"[ble] backoff_cap_s must be positive, got {backoff_cap:g}")
    if reset_after < 1:
        raise SourceConfigError(f"[ble] reset_after_failures must be at least 1, got {reset_after}")
    return BleakSource(adapter, mode, quiet_restart_s=quiet, backoff_cap_s=backoff_cap,
                       reset_after_failures=reset_after)
