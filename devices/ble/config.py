"""The ``[ble]`` settings section: the adapter this box listens with and how presence is judged from it.

Declared here, with the sources that use it; the app's settings compose it (``edge.settings``). It checks
itself on construction (``SourceConfigError`` naming the field): limits are declared in field metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from devices.fields import problems


class SourceConfigError(ValueError):
    """The requested BLE source cannot be built, or a ``[ble]`` setting is unusable; the message says what to
    change. ``field`` names the setting when one is to blame."""

    def __init__(self, message: str, field: str | None = None, problem: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.problem = problem or message


@dataclass(frozen=True)
class BleConfig:
    """The adapter and the presence thresholds (distances in metres, times in seconds).

    - ``enabled``: listen at all (a presence box always does); ``adapter``: e.g. ``hci0``; ``mode``: passive
      (listen only) | active (also ask for scan responses); ``quiet_restart_s``: restart a scan that heard
      nothing for this long; ``backoff_cap_s``: the longest wait between adapter retries;
      ``reset_after_failures``: failed starts before the adapter is reset.
    - ``zone``: the area this box's adapter covers; ``enter_m``/``exit_m``: estimated distance to enter/leave
      it (hysteresis); ``exit_after_s``: silence after which a visitor has left; ``dwell_every_s``: how often a
      dwell is reported; ``eid_window``: EID rotation periods tried either side of now.
    - ``replay``: a JSON Lines replay file instead of an adapter (the demo), ``FILE[@SPEED]``.
    """

    enabled: bool = False
    adapter: str = "hci0"
    mode: str = field(default="passive", metadata={"choices": ("passive", "active")})
    quiet_restart_s: float = field(default=120.0, metadata={"range": (1.0, 86_400.0)})
    zone: str = "store"
    enter_m: float = field(default=2.0, metadata={"range": (0.1, 100.0)})
    exit_m: float = field(default=4.0, metadata={"range": (0.1, 100.0)})
    exit_after_s: float = field(default=90.0, metadata={"range": (1.0, 86_400.0)})
    dwell_every_s: float = field(default=60.0, metadata={"range": (1.0, 86_400.0)})
    eid_window: int = field(default=2, metadata={"range": (0, 100)})
    backoff_cap_s: float = field(default=30.0, metadata={"range": (0.01, 3_600.0)})
    reset_after_failures: int = field(default=3, metadata={"range": (1, 1_000)})
    replay: str = ""

    def __post_init__(self) -> None:
        for name, problem in problems(self):
            raise SourceConfigError(f"[ble] {name} {problem}", name, problem)
