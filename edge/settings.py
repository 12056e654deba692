"""Typed, layered settings: defaults < config file (/etc/store-edge/config.toml or --config) < STORE_EDGE_* env.

Environment keys name a section and a field joined by a double underscore, e.g. ``STORE_EDGE_HUB__URL`` or
``STORE_EDGE_LOYALTY__MAX_REDEEM_SHARE``; top-level fields have no section (``STORE_EDGE_DATA_DIR``).
Mappings (such as category multipliers) are given in the environment as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge import paths
from edge.core.i18n import normalise_locale
from edge.core.l10n import Formats

ENV_PREFIX = "STORE_EDGE_"
# STORE_EDGE_* variables that steer tools and tests rather than name a setting
CONTROL_VARIABLES = frozenset(
    {"STORE_EDGE_PRODUCTION", "STORE_EDGE_CONFIG", "STORE_EDGE_REQUIRE_PG", "STORE_EDGE_HUB_DB", "STORE_EDGE_TEST_PG_DSN"}
)


class ConfigError(Exception):
    """A setting could not be read; the message names the source, the key and what is wrong."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(f"config error in {source}: {key}: {problem}")


@dataclass(frozen=True)
class StoreSettings:
    id: str = "demo-store"
    name: str = "Demo Store"
    currency: str = "EUR"  # ISO 4217; amounts are integer minor units of it (edge/core/money.py)
    timezone: str = "UTC"  # IANA zone the receipts' and screens' dates are written in
    # CLDR locale of the till's texts and formats (es_ES, es_CO, en); a member's own language wins on what
    # is sent to the member. The hub's value for the store, once it sends one, replaces these three.
    locale: str = "en"
    # ISO 3166 country whose phone numbers may be typed without a country code (the demo's are Dutch)
    country: str = "NL"

    @property
    def formats(self) -> Formats:
        """The store's language, money and time zone in one value (checked when the settings were read)."""
        return Formats(normalise_locale(self.locale), self.currency.upper(), self.timezone)
    # "HH:MM-HH:MM" local opening hours, used by presence-triggered offers.
    opening_hours: str = "08:00-21:00"


@dataclass(frozen=True)
class DeviceSettings:
    id: str = "till-1"
    role: str = "till"  # till | presence | sync


@dataclass(frozen=True)
class HubSettings:
    url: str = ""  # empty: no hub configured, the till runs offline
    timeout_s: float = 10.0
    sync_interval_s: float = 5.0
    batch_max_events: int = 2_000  # the adaptive batcher grows up to this while a backlog drains
    batch_max_bytes: int = 1_000_000
    backoff_cap_s: float = 300.0
    acked_retention_days: int = 7


@dataclass(frozen=True)
class LoyaltySettings:
    points_per_unit: float = 1.0  # points per whole currency unit spent
    category_multipliers: dict[str, float] = field(default_factory=dict)
    tier_thresholds_cents: dict[str, int] = field(
        default_factory=lambda: {"Bronze": 0, "Silver": 50_000, "Gold": 150_000}
    )
    tier_multipliers: dict[str, float] = field(
        default_factory=lambda: {"Bronze": 1.0, "Silver": 1.25, "Gold": 1.5}
    )
    point_value_cents: float = 1.0  # what one point is worth at redemption
    min_redeem_points: int = 100
    max_redeem_share: float = 0.5  # of the basket total after discounts
    offline_burn_cap_points: int = 2_000  # per customer per day while the hub is unreachable
    birthday_coupon_cents: int = 500


@dataclass(frozen=True)
class TillSettings:
    wedge: bool = True  # keyboard-wedge scanners: tell a scanner's key burst from typing
    wedge_max_key_interval_ms: float = 35.0
    wedge_min_length: int = 4
    ask_feedback: bool = True
    receipt_width: int = 40
    theme: str = "auto"  # auto | textual-dark | console


@dataclass(frozen=True)
class ScannerSettings:
    serial_port: str = ""  # empty: no serial scanner
    baud: int = 9600
    terminator: str = "CR"  # CR | LF | CRLF | TAB
    prefix: str = ""
    gs_separator: str = "\x1d"
    debounce_ms: float = 400.0
    evdev: str = ""  # device name or VID:PID
    keyboard_layout: str = "us"  # for evdev scanners: us | de | fr
    # technician's override of auto-detection: device name, VID:PID or event node -> "scanner" | "keyboard"
    device_roles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BarcodeSettings:
    # ISO country whose GS1 rules apply to in-store prefixes 02 and 20-29 (biip: dk ee fi de gb lv lt no se)
    rcn_region: str = ""
    # prefix -> "weight|price:LAYOUT:DECIMALS" for countries biip has no rules for, e.g. "weight:PPPPPPPVVVVV:3"
    variable_measure_rules: dict[str, str] = field(
        default_factory=lambda: {"28": "weight:PPPPPPPVVVVV:3", "29": "price:PPPPPPPVVVVV:2"}
    )
    loyalty_card_pattern: str = r"^(?P<number>6009\d{12})$"
    loyalty_card_check: str = "luhn"  # luhn | gs1 | none
    store_coupon_pattern: str = r"^(?P<code>[A-Z0-9]{2,12}-[A-Z0-9]{2,24})$"
    token_skew_s: float = 30.0
    token_max_ttl_s: float = 600.0


@dataclass(frozen=True)
class BleSettings:
    enabled: bool = False
    adapter: str = "hci0"
    mode: str = "passive"  # passive | active
    quiet_restart_s: float = 120.0
    zone: str = "store"  # the area this box's adapter covers
    enter_m: float = 2.0
    exit_m: float = 4.0
    exit_after_s: float = 90.0
    dwell_every_s: float = 60.0
    eid_window: int = 2
    backoff_cap_s: float = 30.0
    reset_after_failures: int = 3
    replay: str = ""  # a JSON Lines replay file instead of an adapter (the demo), "FILE[@SPEED]"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=paths.default_data_dir)
    store: StoreSettings = field(default_factory=StoreSettings)
    device: DeviceSettings = field(default_factory=DeviceSettings)
    hub: HubSettings = field(default_factory=HubSettings)
    loyalty: LoyaltySettings = field(default_factory=LoyaltySettings)
    till: TillSettings = field(default_factory=TillSettings)
    scanner: ScannerSettings = field(default_factory=ScannerSettings)
    barcode: BarcodeSettings = field(default_factory=BarcodeSettings)
    ble: BleSettings = field(default_factory=BleSettings)

    @property
    def database_path(self) -> Path:
        return paths.database_file(self.data_dir)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(value: Any, tp: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in {"1", "true", "yes", "on"}:
                return True
            if isinstance(value, str) and value.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError
        if tp is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if tp is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if tp is str:
            if not isinstance(value, str):
                raise ValueError
            return value
        if tp is Path:
            if not isinstance(value, str | Path):
                raise ValueError
            return Path(value).expanduser()
        if origin is dict:
            if isinstance(value, str):
                value = json.loads(value)
            if not isinstance(value, dict):
                raise ValueError
            _, vt = typing.get_args(tp)
            return {str(k): _coerce(v, vt, source, f"{key}.{k}") for k, v in value.items()}
        if origin in (typing.Union, types.UnionType):
            raise ValueError
    except ConfigError:
        raise
    except (ValueError, TypeError, json.JSONDecodeError):
        name = getattr(tp, "__name__", str(tp))
        raise ConfigError(source, key, f"expected {_describe(name)}, got {value!r}") from None
    return value


def _describe(type_name: str) -> str:
    return {
        "bool": "true or false",
        "int": "a whole number",
        "float": "a number",
        "str": "a text string",
        "Path": "a file-system path",
    }.get(type_name, f"a {type_name}")


def _build(cls: type, layers: list[tuple[str, dict[str, Any]]], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(cls)}
    for source, data in layers:
        for k in data:
            if k not in known:
                raise ConfigError(source, f"{prefix}{k}", "unknown setting (check the spelling)")
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            sub_layers = []
            for source, data in layers:
                if f.name in data:
                    if not isinstance(data[f.name], dict):
                        raise ConfigError(source, key, "expected a [section] table")
                    sub_layers.append((source, data[f.name]))
            kwargs[f.name] = _build(typing.cast(type, tp), sub_layers, prefix=f"{key}.")
            continue
        for source, data in layers:
            if f.name in data:
                kwargs[f.name] = _coerce(data[f.name], tp, source, key)
    settings = cls(**kwargs)
    _validate(settings, layers, prefix)
    return settings


_RANGES: dict[str, tuple[float, float]] = {
    "max_redeem_share": (0.0, 1.0),
    "points_per_unit": (0.0, 1_000.0),
    "point_value_cents": (0.0, 10_000.0),
    "min_redeem_points": (0, 10**9),
    "offline_burn_cap_points": (0, 10**9),
    "timeout_s": (0.1, 3_600.0),
    "batch_max_events": (1, 100_000),
    "baud": (50, 4_000_000),
}


# the values a setting may take, by its full key; the scanner layouts are those devices/scanners/evdev_keys knows
_CHOICES: dict[str, tuple[str, ...]] = {
    "device.role": ("till", "presence", "sync"),
    "scanner.terminator": ("CR", "LF", "CRLF", "TAB"),
    "scanner.keyboard_layout": ("us", "de", "fr"),
    "barcode.loyalty_card_check": ("luhn", "gs1", "none"),
    "barcode.rcn_region": ("", "dk", "ee", "fi", "de", "gb", "lv", "lt", "no", "se"),
    "ble.mode": ("passive", "active"),
}
_PATTERNS = ("barcode.loyalty_card_pattern", "barcode.store_coupon_pattern")
_VARIABLE_MEASURE = re.compile(r"(weight|price):[PCV]{12}:\d")


def _check_store_locale(key: str, value: str) -> str | None:
    """What is wrong with the store's locale, currency, time zone or country, in words; None if right."""
    from edge.core.l10n import check_locale, check_timezone
    from edge.core.money import minor_exponent

    checks: dict[str, typing.Callable[[str], object]] = {"store.locale": check_locale, "store.currency": minor_exponent, "store.timezone": check_timezone}
    if key in checks:
        try:
            checks[key](value)
        except ValueError as exc:
            return str(exc)
    if key == "store.country":
        import phonenumbers

        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            return f"{value!r} is not a country code; write it like ES, CO, MX or NL"
    return None


def _validate(obj: Any, layers: list[tuple[str, dict[str, Any]]], prefix: str) -> None:
    def source_of(name: str) -> str:
        return next((s for s, d in reversed(layers) if name in d), "defaults")

    for name, (lo, hi) in _RANGES.items():
        if hasattr(obj, name):
            value = getattr(obj, name)
            if not lo <= value <= hi:
                raise ConfigError(source_of(name), f"{prefix}{name}", f"must be between {lo:g} and {hi:g}, got {value!r}")
    for f in dataclasses.fields(obj):
        key, value = f"{prefix}{f.name}", getattr(obj, f.name)
        if key in _CHOICES and value not in _CHOICES[key]:
            allowed = ", ".join(repr(c) for c in _CHOICES[key])
            raise ConfigError(source_of(f.name), key, f"must be one of {allowed}, got {value!r}")
        if key in _PATTERNS:
            try:
                re.compile(value)
            except re.error as exc:
                raise ConfigError(source_of(f.name), key, f"is not a valid regular expression ({exc})") from None
        problem = _check_store_locale(key, value) if key.startswith("store.") else None
        if problem:
            raise ConfigError(source_of(f.name), key, problem)
        if key == "barcode.variable_measure_rules":
            for code, rule in value.items():
                if not (code.isdigit() and len(code) == 2 and _VARIABLE_MEASURE.fullmatch(rule)):
                    raise ConfigError(source_of(f.name), f"{key}.{code}",
                                      f"{rule!r} should look like 'weight:PPPPPPPVVVVV:3' for a 2-digit prefix")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(file)", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(str(path), "(file)", f"cannot be read: {exc.strerror}") from None


def _env_layer(environ: typing.Mapping[str, str]) -> dict[str, Any]:
    layer: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name in CONTROL_VARIABLES:
            continue
        parts = name[len(ENV_PREFIX) :].lower().split("__")
        target = layer
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return layer


def load_settings(
    config_path: Path | None = None,
    environ: typing.Mapping[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Read the layers. ``config_path`` replaces /etc/store-edge/config.toml (which is optional)."""
    environ = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, Any]]] = []
    if config_path is None and environ.get("STORE_EDGE_CONFIG"):
        config_path = Path(environ["STORE_EDGE_CONFIG"])
    if config_path is not None:
        if not config_path.exists():
            raise ConfigError(str(config_path), "(file)", "does not exist")
        layers.append((str(config_path), _read_toml(config_path)))
    elif paths.SYSTEM_CONFIG.exists():
        layers.append((str(paths.SYSTEM_CONFIG), _read_toml(paths.SYSTEM_CONFIG)))
    env = _env_layer(environ)
    if env:
        layers.append(("environment (STORE_EDGE_*)", env))
    if overrides:
        layers.append(("command line", overrides))
    return typing.cast(Settings, _build(Settings, layers))
