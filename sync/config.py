"""The sync client's own settings: the ``[hub]`` section of the device's config file.

Declared here, in the package that uses them, so that ``sync`` needs nothing from the app: the app's settings
(``edge.settings.Settings.hub``) *are* a ``SyncConfig``, composed with the other sections. Each numeric field
declares its allowed range in its metadata (``{"range": (low, high)}``, inclusive); the settings loader
refuses a value outside it, naming the key and the range (``edge.core.fields``).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SyncConfig:
    """How the device talks to its hub. Times in seconds, sizes in events and bytes.

    - ``url``: the hub's base URL (``https://hub.example.com``); empty: no hub, the till runs offline and the
      enrolled credential's URL is used by the sync commands.
    - ``timeout_s``: one HTTP request's timeout.
    - ``sync_interval_s``: the pause between rounds while everything is in sync.
    - ``batch_max_events`` / ``batch_max_bytes``: the adaptive batcher's ceiling (it grows up to it while a
      backlog drains, and halves on slow or failed batches).
    - ``backoff_cap_s``: the longest wait between failed attempts (full jitter below it).
    - ``acked_retention_days``: how long events the hub acknowledged stay in the outbox (for audits).
    - ``lookup_timeout_s``: how long the till waits for the hub to say who an unknown member is
      (``GET /v1/members/lookup``) before the sale goes on as a guest sale with a claim code.
    """

    url: str = ""
    timeout_s: float = field(default=10.0, metadata={"range": (0.1, 3_600.0)})
    sync_interval_s: float = field(default=5.0, metadata={"range": (0.01, 86_400.0)})
    batch_max_events: int = field(default=2_000, metadata={"range": (1, 100_000)})
    batch_max_bytes: int = field(default=1_000_000, metadata={"range": (1_000, 100_000_000)})
    backoff_cap_s: float = field(default=300.0, metadata={"range": (0.01, 86_400.0)})
    acked_retention_days: int = field(default=7, metadata={"range": (0, 3_650)})
    lookup_timeout_s: float = field(default=2.0, metadata={"range": (0.1, 30.0)})
