"""Typed, layered settings: defaults < config file (/etc/store-edge/config.toml or --config) < STORE_EDGE_* env.

Each section is declared by the package that uses it and composed here: ``[hub]`` is ``sync.config.SyncConfig``,
``[scanner]`` ``devices.scanners.config.ScannerConfig``, ``[barcode]`` ``devices.barcode.config.BarcodeSettings``,
``[ble]`` ``devices.ble.config.BleConfig``; the app's own sections are below. Limits are declared on the fields
(``metadata={"range": (low, high)}`` or ``{"choices": (...)}``, checked by ``devices.fields.problems``); a value
outside them stops the command with one line naming the source, the key and the allowed range (exit status 2).

Why a small loader of our own rather than pydantic-settings (as Posting) or msgspec (as Harlequin): an error must
name the layer it came from (the file or the environment) and the key, and pydantic-settings merges the sources
before it validates; pydantic's import and model building cost ~0.2-1 s on a loaded x86 box (the till must
start in under 1 s on a Pi); msgspec is cheap but validates only on decoding, not a dataclass built in code, and
knows no ``Path``. The limits stay declarative (field metadata), so a library can take over the checking later.

Environment keys name a section and a field joined by a double underscore, e.g. ``STORE_EDGE_HUB__URL`` or
``STORE_EDGE_LOYALTY__MAX_REDEEM_SHARE``; top-level fields have no section (``STORE_EDGE_DATA_DIR``).
Mappings (such as category multipliers) are given in the environment as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.barcode.config import BarcodeSettings, BarcodeSettingsError
from devices.ble.config import BleConfig, SourceConfigError
from devices.fields import problems
from devices.scanners.config import ScannerConfig, ScannerConfigError
from edge import paths
from edge.core.errors import CliError
from edge.core.i18n import N_, Text, normalise_locale
from edge.core.l10n import Formats
from sync.config import SyncConfig

ENV_PREFIX = "STORE_EDGE_"
ENV_SOURCE = "environment (STORE_EDGE_*)"  # how errors name the environment layer
# STORE_EDGE_* variables that steer tools and tests rather than name a setting
CONTROL_VARIABLES = frozenset(
    {"STORE_EDGE_PRODUCTION", "STORE_EDGE_CONFIG", "STORE_EDGE_REQUIRE_PG", "STORE_EDGE_HUB_DB", "STORE_EDGE_TEST_PG_DSN"}
)

# The sections owned by other packages, under the names the app has always used for them.
HubSettings = SyncConfig  # [hub]: sync/config.py
ScannerSettings = ScannerConfig  # [scanner]: devices/scanners/config.py
BleSettings = BleConfig  # [ble]: devices/ble/config.py
# [barcode]: BarcodeSettings, devices/barcode/config.py


class ConfigError(CliError):
    """A setting could not be read; the message names the source, the key and what is wrong (exit status 2)."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        self.source, self.key, self.problem = source, key, problem
        super().__init__(Text(N_("config error in {source}: {key}: {problem}"), source=source, key=key,
                              problem=problem), 2)


@dataclass(frozen=True)
class StoreSettings:
    """The store this device belongs to. ``opening_hours``: ``"HH:MM-HH:MM"`` local time (presence offers)."""

    id: str = "demo-store"
    name: str = "Demo Store"
    currency: str = "EUR"  # ISO 4217; amounts are integer minor units of it (edge/core/money.py)
    timezone: str = "UTC"  # IANA zone the receipts' and screens' dates are written in
    opening_hours: str = "08:00-21:00"
    # CLDR locale of the till's texts and formats (es_ES, es_CO, en); a member's own language wins on what
    # is sent to the member. The hub's values for the store, once it sends them, replace these.
    locale: str = "en"
    # ISO 3166 country whose phone numbers may be typed without a country code (the demo's are Dutch)
    country: str = "NL"

    def __post_init__(self) -> None:
        for name, problem in _store_locale_problems(self):
            raise StoreSettingsError(problem, name)

    @property
    def formats(self) -> Formats:
        """The store's language, money and time zone in one value (checked when the settings were read)."""
        return Formats(normalise_locale(self.locale), self.currency.upper(), self.timezone)


class StoreSettingsError(ValueError):
    """A ``[store]`` setting is unusable; ``field`` names it, ``problem`` says what to write instead."""

    def __init__(self, problem: str, field: str | None = None) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


# the errors a section raises on construction (each names its field and the problem)
_SECTION_ERRORS = (BarcodeSettingsError, ScannerConfigError, SourceConfigError, StoreSettingsError)


def _store_locale_problems(store: StoreSettings) -> list[tuple[str, str]]:
    """(field, problem) for a locale, currency, time zone or country the till could not use."""
    from edge.core.l10n import check_country, check_locale, check_timezone
    from edge.core.money import minor_exponent

    checks: dict[str, typing.Callable[[str], object]] = {
        "locale": check_locale, "currency": minor_exponent, "timezone": check_timezone, "country": check_country,
    }  # fmt: skip
    found = []
    for name, check in checks.items():
        try:
            check(getattr(store, name))
        except ValueError as exc:
            found.append((name, str(exc)))
    return found


@dataclass(frozen=True)
class DeviceSettings:
    """This device: its id (as enrolled on the hub) and its role (till | presence | sync)."""

    id: str = "till-1"
    role: str = field(default="till", metadata={"choices": ("till", "presence", "sync")})


@dataclass(frozen=True)
class LoyaltySettings:
    """The programme's rules on this till (amounts in cents, shares as fractions of 1)."""

    points_per_unit: float = field(default=1.0, metadata={"range": (0.0, 1_000.0)})  # per whole currency unit
    category_multipliers: dict[str, float] = field(default_factory=dict)
    tier_thresholds_cents: dict[str, int] = field(
        default_factory=lambda: {"Bronze": 0, "Silver": 50_000, "Gold": 150_000}
    )
    tier_multipliers: dict[str, float] = field(
        default_factory=lambda: {"Bronze": 1.0, "Silver": 1.25, "Gold": 1.5}
    )
    point_value_cents: float = field(default=1.0, metadata={"range": (0.0, 10_000.0)})  # one point at redemption
    min_redeem_points: int = field(default=100, metadata={"range": (0, 10**9)})
    max_redeem_share: float = field(default=0.5, metadata={"range": (0.0, 1.0)})  # of the total after discounts
    # per customer per day while the hub is unreachable
    offline_burn_cap_points: int = field(default=2_000, metadata={"range": (0, 10**9)})


@dataclass(frozen=True)
class TillSettings:
    """The till's screen and keyboard. ``wedge``: tell a keyboard-wedge scanner's key burst from typing (keys
    closer than ``wedge_max_key_interval_ms``, at least ``wedge_min_length`` of them); ``theme``: auto |
    textual-dark | console; ``receipt_width`` in characters."""

    wedge: bool = True
    wedge_max_key_interval_ms: float = field(default=35.0, metadata={"range": (1.0, 1_000.0)})
    wedge_min_length: int = field(default=4, metadata={"range": (1, 100)})
    ask_feedback: bool = True
    receipt_width: int = field(default=40, metadata={"range": (20, 200)})
    theme: str = "auto"


@dataclass(frozen=True)
class Settings:
    """All settings of a device, one section per package that uses them (see the module docstring)."""

    data_dir: Path = field(default_factory=paths.default_data_dir)
    store: StoreSettings = field(default_factory=StoreSettings)
    device: DeviceSettings = field(default_factory=DeviceSettings)
    hub: SyncConfig = field(default_factory=SyncConfig)
    loyalty: LoyaltySettings = field(default_factory=LoyaltySettings)
    till: TillSettings = field(default_factory=TillSettings)
    scanner: ScannerConfig = field(default_factory=ScannerConfig)
    barcode: BarcodeSettings = field(default_factory=BarcodeSettings)
    ble: BleConfig = field(default_factory=BleConfig)

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
        raise ConfigError(source, key, Text(N_("expected {kind}, got {value}"), kind=Text(_describe(name)),
                                            value=repr(value))) from None
    return value


def _describe(type_name: str) -> str:
    return {
        "bool": N_("true or false"),
        "int": N_("a whole number"),
        "float": N_("a number"),
        "str": N_("a text string"),
        "Path": N_("a file-system path"),
    }.get(type_name, type_name)


def _build(cls: type, layers: list[tuple[str, dict[str, Any]]], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    known = {f.name for f in dataclasses.fields(cls)}
    for source, data in layers:
        for k in data:
            if k not in known:
                raise ConfigError(source, f"{prefix}{k}", Text(N_("unknown setting (check the spelling)")))
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            sub_layers = []
            for source, data in layers:
                if f.name in data:
                    if not isinstance(data[f.name], dict):
                        raise ConfigError(source, key, Text(N_("expected a [section] table")))
                    sub_layers.append((source, data[f.name]))
            kwargs[f.name] = _build(typing.cast(type, tp), sub_layers, prefix=f"{key}.")
            continue
        for source, data in layers:
            if f.name in data:
                kwargs[f.name] = _coerce(data[f.name], tp, source, key)
    return _construct(cls, kwargs, layers, prefix)


def _construct(cls: type, kwargs: dict[str, Any], layers: list[tuple[str, dict[str, Any]]], prefix: str) -> Any:
    """Build one section from its coerced values; refuse values outside the limits declared on its fields."""

    def source_of(name: str) -> str:
        return next((s for s, d in reversed(layers) if name in d), "defaults")

    try:
        section = cls(**kwargs)  # the device sections check themselves here
    except _SECTION_ERRORS as exc:
        name = exc.field or ""
        raise ConfigError(source_of(name.split(".")[0]), f"{prefix}{name}", exc.problem) from None
    for name, problem in problems(section):  # the limits declared on the fields
        raise ConfigError(source_of(name), f"{prefix}{name}", problem)
    return section


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), "(file)", Text(N_("not valid TOML: {problem}"), problem=str(exc))) from None
    except OSError as exc:
        raise ConfigError(str(path), "(file)", Text(N_("cannot be read: {problem}"),
                                                       problem=exc.strerror)) from None


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
            raise ConfigError(str(config_path), "(file)", Text(N_("does not exist")))
        layers.append((str(config_path), _read_toml(config_path)))
    elif paths.SYSTEM_CONFIG.exists():
        layers.append((str(paths.SYSTEM_CONFIG), _read_toml(paths.SYSTEM_CONFIG)))
    env = _env_layer(environ)
    if env:
        layers.append((ENV_SOURCE, env))
    if overrides:
        layers.append(("command line", overrides))
    return typing.cast(Settings, _build(Settings, layers))
