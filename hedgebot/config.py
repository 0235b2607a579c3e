"""Settings: the TOML file plus ``HEDGEBOT__SECTION__KEY`` environment overrides, validated.

Owns the schema (unknown keys rejected everywhere), the consistency checks across sections, and
`load_settings`, which turns every problem into one `ConfigError` line naming the key. Secrets
are `SecretStr` and come only from the environment or secret files, never from the TOML file.
It must not start anything: loading a config has no side effects besides reading files.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from hedgebot.core.greeks_check import GreeksTolerance
from hedgebot.core.margin_model import MarginModel
from hedgebot.core.policy import DEFAULT_COST_BPS, DEFAULT_RELATIVE_RISK_AVERSION
from hedgebot.core.stress import StressScenario, TenorVolShock
from hedgebot.model.errors import ConfigError

MASK = "**********"
_SECRET_KEYS_IN_TOML = frozenset({"api_key", "api_secret", "api_password", "control_token"})


class Section(BaseModel):
    """Base of every config section: frozen, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class LogSettings(Section):
    """How hedgebot logs."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "console", "json"] = "auto"
    """auto: a live status table on a terminal, JSON lines otherwise."""
    status_interval_s: float = Field(default=2.0, gt=0)


class UnderlyingSimSettings(Section):
    """Overrides of the simulated market for one underlying."""

    spot: float | None = Field(default=None, gt=0)
    vol: float | None = Field(default=None, gt=0, lt=5)
    jumps_per_day: float | None = Field(default=None, ge=0)


class SimulatorSettings(Section):
    """The built-in simulated exchange (venues with ``driver = "simulated"``)."""

    seed: int = 7
    speed: float = Field(default=1.0, ge=0)
    """Simulated seconds per real second; 0 runs as fast as possible."""
    start: dt.datetime = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    latency_ms: int = Field(default=150, ge=0)
    underlyings: dict[str, UnderlyingSimSettings] = Field(default_factory=dict)


class VenueSettings(Section):
    """One venue and how to reach it."""

    driver: Literal["simulated", "ccxt"] = "simulated"
    exchange: str = "deribit"
    """ccxt exchange id (deribit, binanceusdm, binancecoinm, bybit, okx) for ``driver = "ccxt"``."""
    sandbox: bool = False
    rest_url: str | None = None
    ws_url: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None
    api_password: SecretStr | None = None
    """The key's passphrase (OKX keys have one; ccxt's ``password``)."""
    api_key_file: Path | None = None
    api_secret_file: Path | None = None
    api_password_file: Path | None = None
    stale_after_s: float = Field(default=15.0, gt=0)
    reconcile_interval_s: float = Field(default=30.0, gt=0)
    fence_interval_s: float = Field(default=30.0, gt=0)
    """Live mode: how often open orders and recent fills are read to spot another hedger."""
    keepalive_ms: int = Field(default=5000, gt=0)


class PositionSeed(Section):
    """A starting position of a configured book (simulated and paper modes)."""

    symbol: str
    amount: float
    price: float = Field(default=0.0, ge=0)


class AccountSettings(Section):
    """One trading account."""

    venue: str
    count_collateral: bool = True
    """Count coin collateral as delta (Deribit: hedge Equity_coin + DeltaTotal to zero)."""
    collateral: dict[str, float] = Field(default_factory=dict)
    positions: list[PositionSeed] = Field(default_factory=list)
    snapshot_from_venue: bool = False
    """Paper mode: start from the real account's positions (read-only keys), not `positions`."""


class FixedBandSettings(Section):
    """A band of constant half-width in coin."""

    kind: Literal["fixed"] = "fixed"
    half_width: float = Field(gt=0)


class PercentBandSettings(Section):
    """A band of half-width `percent` of the book's gross delta, clamped to [minimum, maximum]."""

    kind: Literal["percent"]
    percent: float = Field(gt=0, le=100)
    minimum: float = Field(gt=0)
    maximum: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> PercentBandSettings:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum ({self.minimum}) must not exceed maximum ({self.maximum})")
        return self


class WhalleyWilmottBandSettings(Section):
    """Whalley–Wilmott band: H = (3/2 · κ · S · Γ² / γ)^(1/3), clamped to [minimum, maximum].

    The risk aversion is `relative_risk_aversion` A (γ = A / (options' gross delta × S): the
    same A is the same band relative to the options' delta whatever the book's size; default
    `DEFAULT_RELATIVE_RISK_AVERSION`) or, as configs written before A existed say,
    `risk_aversion` γ per USD. Not both."""

    kind: Literal["whalley_wilmott"]
    relative_risk_aversion: float | None = Field(default=None, gt=0)
    """A, per USD of the options' delta notional (γ × options' gross delta × S)."""
    risk_aversion: float | None = Field(default=None, gt=0)
    """γ, per USD of P&L (must scale with the book; prefer `relative_risk_aversion`)."""
    cost_bps: float = Field(default=DEFAULT_COST_BPS, gt=0)
    """κ, the one-way proportional cost of a hedge trade in basis points of its notional."""
    minimum: float = Field(gt=0)
    maximum: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> WhalleyWilmottBandSettings:
        if self.relative_risk_aversion is not None and self.risk_aversion is not None:
            raise ValueError(
                "give relative_risk_aversion (per USD of the options' delta notional) or "
                "risk_aversion (per USD), not both"
            )
        if self.minimum > self.maximum:
            raise ValueError(f"minimum ({self.minimum}) must not exceed maximum ({self.maximum})")
        return self

    @property
    def chosen_relative_risk_aversion(self) -> float | None:
        """A as configured, the default A when neither is given, None when γ is given."""
        if self.risk_aversion is not None:
            return None
        return self.relative_risk_aversion or DEFAULT_RELATIVE_RISK_AVERSION


BandSettings = Annotated[
    FixedBandSettings | PercentBandSettings | WhalleyWilmottBandSettings,
    Field(discriminator="kind"),
]


class HedgeSettings(Section):
    """How one underlying is hedged. Amounts are in coin of the underlying."""

    account: str
    instrument: str
    target: float = 0.0
    band: BandSettings
    rebalance_to: Literal["edge", "target"] = "edge"
    min_order: float = Field(gt=0)
    max_order: float = Field(gt=0)
    max_position: float = Field(gt=0)
    cooldown_s: float = Field(default=5.0, ge=0)
    slippage_bps: float = Field(default=10.0, ge=0, le=500)
    order_timeout_s: float = Field(default=10.0, gt=0)
    """A hedge order resting longer than this is cancelled and the need re-assessed."""

    @model_validator(mode="after")
    def _consistent(self) -> HedgeSettings:
        if self.min_order >= self.max_order:
            raise ValueError(
                f"min_order ({self.min_order}) must be less than max_order ({self.max_order})"
            )
        if self.max_order > self.max_position:
            raise ValueError(
                f"max_order ({self.max_order}) must not exceed max_position ({self.max_position})"
            )
        return self


class GuardSettings(Section):
    """Limits that stop trading (see hedgebot.core.guards)."""

    max_data_age_s: float = Field(default=10.0, gt=0)
    max_notional_per_minute_usd: float = Field(default=2_000_000.0, gt=0)
    max_notional_per_hour_usd: float = Field(default=20_000_000.0, gt=0)
    max_orders_per_minute: int = Field(default=30, gt=0)
    max_consecutive_rejects: int = Field(default=3, gt=0)
    kill_abs_net_delta_usd: float = Field(default=50_000_000.0, gt=0)
    kill_maintenance_ratio: float = Field(default=0.95, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> GuardSettings:
        if self.max_notional_per_minute_usd > self.max_notional_per_hour_usd:
            raise ValueError(
                "max_notional_per_minute_usd must not exceed max_notional_per_hour_usd"
            )
        return self


class MarginSettings(Section):
    """Margin thresholds on MM/equity (alerts with hysteresis; trading states)."""

    warning_ratio: float = Field(default=0.5, gt=0, lt=1)
    critical_ratio: float = Field(default=0.75, gt=0, lt=1)
    hysteresis: float = Field(default=0.05, ge=0, lt=0.5)
    reducing_ratio: float = Field(default=0.8, gt=0, lt=1)
    """Above this MM/equity only orders that reduce exposure or margin are sent."""
    min_available_ratio: float = Field(default=0.1, ge=0, lt=1)
    """Never send a hedge that would leave less than this share of equity free of initial
    margin, unless it shrinks the hedge position (and so the margin it needs)."""
    hedge_im_rate: float = Field(default=0.02, gt=0, lt=1)
    """Initial margin charged per unit of hedge notional, for that projection (Deribit: 2%)."""
    model: Literal["deribit_standard", "reported"] = "deribit_standard"
    """How MM is projected under a shock: Deribit standard margin repriced at the shocked marks,
    or the venue's reported MM scaled with the price (portfolio margin, unified accounts:
    approximate, and the risk report says so)."""
    stress_spot_move: float = Field(default=-0.15, gt=-1, le=1)
    """The stress scenario's move of every underlying (fraction)."""
    stress_vol_points: float = Field(default=25.0, ge=-100, le=300)
    """The stress scenario's implied-vol rise, in vol points, at `stress_vol_reference_days`."""
    stress_vol_reference_days: float = Field(default=30.0, gt=0)
    stress_vol_exponent: float = Field(default=0.5, ge=0, le=2)
    """Vol shock of expiry T: points x (reference_days / T) ^ exponent (0.5: square root)."""
    stress_target_ratio: float = Field(default=0.5, gt=0, lt=1)
    """The MM/equity under the stress scenario that the stated collateral top-up restores."""

    @model_validator(mode="after")
    def _ordered(self) -> MarginSettings:
        if not self.warning_ratio < self.critical_ratio:
            raise ValueError(
                f"warning_ratio ({self.warning_ratio}) must be below "
                f"critical_ratio ({self.critical_ratio})"
            )
        if self.hysteresis >= self.warning_ratio:
            raise ValueError("hysteresis must be smaller than warning_ratio")
        return self

    def stress_scenario(self) -> StressScenario:
        """The configured stress scenario as the core's value."""
        return StressScenario(
            spot_move=self.stress_spot_move,
            vol=TenorVolShock(
                points=self.stress_vol_points / 100.0,
                reference_days=self.stress_vol_reference_days,
                exponent=self.stress_vol_exponent,
            ),
            target_ratio=self.stress_target_ratio,
        )

    def margin_model(self) -> MarginModel:
        """The configured margin projection as the core's value."""
        return MarginModel(self.model)


class GreeksCheckSettings(Section):
    """Our position deltas against the venue's (hedgebot.core.greeks_check)."""

    enabled: bool = True
    warn_relative: float = Field(default=0.05, ge=0)
    """Beyond absolute + this share of the larger delta: alert (stale IV, unit, convention)."""
    hold_relative: float = Field(default=0.25, ge=0)
    """Beyond absolute + this share: hold trading on that underlying."""
    absolute: float = Field(default=0.01, ge=0)
    """Coin always allowed (the venue's rounding, small positions)."""

    @model_validator(mode="after")
    def _ordered(self) -> GreeksCheckSettings:
        if self.warn_relative > self.hold_relative:
            raise ValueError("warn_relative must not exceed hold_relative")
        return self

    def tolerance(self) -> GreeksTolerance | None:
        """The core's tolerance, None when the check is off."""
        if not self.enabled:
            return None
        return GreeksTolerance(
            warn_relative=self.warn_relative,
            hold_relative=self.hold_relative,
            absolute=self.absolute,
        )


class AlertSettings(Section):
    """Alert delivery through apprise URLs (secrets: set them from the environment)."""

    urls: list[SecretStr] = Field(default_factory=list)
    rate_limit_s: float = Field(default=60.0, ge=0)
    stale_alert_after_s: float = Field(default=30.0, gt=0)


class HttpSettings(Section):
    """Health, metrics, status and control endpoint."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=9102, ge=0, le=65535)
    control_token: SecretStr | None = None
    control_token_file: Path | None = None
    """The control token from a file (systemd credential, container secret); control routes are
    disabled when neither this nor ``control_token`` (environment only) is set."""


class Settings(BaseSettings):
    """The whole configuration of one hedgebot daemon."""

    model_config = SettingsConfigDict(
        env_prefix="HEDGEBOT__",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    mode: Literal["paper", "live"] = "paper"
    state_dir: Path = Path("state")
    loop_interval_s: float = Field(default=1.0, gt=0)
    on_shutdown: Literal["cancel", "leave"] = "cancel"
    """What SIGTERM does to resting hedge orders: cancel them, or leave them on the venue."""
    log: LogSettings = LogSettings()
    simulator: SimulatorSettings = SimulatorSettings()
    venues: dict[str, VenueSettings]
    accounts: dict[str, AccountSettings]
    hedges: dict[str, HedgeSettings]
    guards: GuardSettings = GuardSettings()
    margin: MarginSettings = MarginSettings()
    greeks_check: GreeksCheckSettings = GreeksCheckSettings()
    vega_limits: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=dict)
    """Largest |vega| per expiry, USD per vol point, by underlying (`hedgebot risk` flags more)."""
    alerts: AlertSettings = AlertSettings()
    http: HttpSettings = HttpSettings()

    @model_validator(mode="before")
    @classmethod
    def _normalise_names(cls, data: Any) -> Any:
        """Merge env overrides into TOML sections whatever their case (underlyings upper-case)."""
        if not isinstance(data, dict):
            return data
        for section, upper in (("hedges", True), ("venues", False), ("accounts", False)):
            if isinstance(data.get(section), dict):
                data[section] = _merge_case_insensitive(data[section], upper=upper)
        return data

    @model_validator(mode="after")
    def _references(self) -> Settings:
        for name, account in self.accounts.items():
            if account.venue not in self.venues:
                raise ValueError(f"accounts.{name}.venue: no venue named {account.venue!r}")
        for underlying, hedge in self.hedges.items():
            if hedge.account not in self.accounts:
                raise ValueError(f"hedges.{underlying}.account: no account named {hedge.account!r}")
        if not self.hedges:
            raise ValueError("hedges: at least one underlying must be hedged")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment overrides the file; the file is passed in as init data."""
        return (env_settings, init_settings)


def _merge_case_insensitive(section: Mapping[str, Any], *, upper: bool) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for name, value in section.items():
        key = name.upper() if upper else name.lower()
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML config file, refusing secrets written into it."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _refuse_secrets(data, prefix="")
    return data


def _refuse_secrets(data: Mapping[str, Any], *, prefix: str) -> None:
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key in _SECRET_KEYS_IN_TOML or where == "alerts.urls":
            env = "HEDGEBOT__" + where.upper().replace(".", "__")
            raise ConfigError(
                f"{where}: secrets are never read from the config file; set {env} "
                f"or the *_file key instead"
            )
        if isinstance(value, dict):
            _refuse_secrets(value, prefix=f"{where}.")


def load_settings(path: Path, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Load and validate `path` plus environment overrides; raise ConfigError with one line."""
    data = read_toml(path)
    saved = None
    if environ is not None:
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(environ)
    try:
        _check_env_names(os.environ, data)
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_first_error_line(exc)) from None
    except SettingsError as exc:
        # An environment value that does not parse: lists and tables are written as JSON.
        match = re.search(r'field "(\w+)"', str(exc))
        where = f"HEDGEBOT__{match.group(1).upper()}__…" if match else "a HEDGEBOT__ value"
        raise ConfigError(
            f"environment: {where} does not parse; lists and tables are JSON, e.g. "
            """HEDGEBOT__ALERTS__URLS='["json://host/path"]'"""
        ) from None
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)


_ENV_PREFIX = "HEDGEBOT__"
_NAMED_SECTIONS = ("venues", "accounts", "hedges")
"""Sections whose entries are named in the config file: an override must name one of them."""


def _check_env_names(environ: Mapping[str, str], data: Mapping[str, Any]) -> None:
    """Refuse ``HEDGEBOT__…`` variables that name no setting: a typo must not pass silently,
    and an override must not create a venue, account or hedge the config file lacks."""
    for name in sorted(environ):
        if not name.upper().startswith(_ENV_PREFIX):
            continue
        parts = name[len(_ENV_PREFIX) :].lower().split("__")
        problem = _env_path_problem(parts, data)
        if problem:
            raise ConfigError(f"environment: {name}: {problem}")


def _env_path_problem(parts: list[str], data: Mapping[str, Any]) -> str | None:
    model: type[BaseModel] = Settings
    section: Any = data
    index = 0
    while index < len(parts):
        part = parts[index]
        field = model.model_fields.get(part)
        if field is None:
            return f"no setting {part!r} here (known: {', '.join(sorted(model.model_fields))})"
        section = section.get(part) if isinstance(section, Mapping) else None
        annotation = field.annotation
        index += 1
        if typing.get_origin(annotation) is dict:
            if index == len(parts):
                return None
            key = parts[index]
            names = {str(k).lower(): v for k, v in (section or {}).items()}
            if model is Settings and part in _NAMED_SECTIONS and key not in names:
                known = ", ".join(sorted(names)) or "none"
                return f"no {part[:-1]} named {key!r} in the config file ({part}: {known})"
            section = names.get(key)
            annotation = typing.get_args(annotation)[1]
            index += 1
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
            continue
        if index < len(parts):
            if typing.get_origin(annotation) in (typing.Union, types.UnionType):
                return None  # a tagged union (bands): validated as a whole
            return f"{part!r} has no sub-setting {parts[index]!r}"
    return None


def _first_error_line(exc: ValidationError) -> str:
    error = exc.errors()[0]
    location = ".".join(str(part) for part in error["loc"] if not _is_union_tag(part))
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    count = exc.error_count()
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    return f"{location or 'config'}: {message}{more}"


def _is_union_tag(part: object) -> bool:
    return part in ("fixed", "percent", "whalley_wilmott")


def config_permission_warning(path: Path) -> str | None:
    """A warning when other users may change the config file (they would change the hedges).

    Being readable is fine: the file never holds a secret (they are refused), and the
    documented systemd install (``DynamicUser=yes``) must be able to read a root-owned file.
    Never for the starter books shipped with hedgebot (hedgebot/defaults)."""
    if path.resolve().parent == Path(__file__).resolve().parent / "defaults":
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} is writable by other users; chmod go-w it"
    return None


def secret_file_warning(path: Path) -> str | None:
    """A warning when a key or secret file can be read by group or others (systemd
    credentials are 0400 for the service alone and draw none)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"{path} holds a secret and is readable by other users; chmod 600 it"
    return None


def mask_url_credentials(url: str) -> str:
    """`url` with any ``user:password@`` replaced by the mask."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{MASK}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def url_credentials(url: str | None) -> list[SecretStr]:
    """The user and password written in `url`, as secrets to mask wherever printed."""
    if not url:
        return []
    parts = urlsplit(url)
    found = [parts.username, parts.password]
    found += [f"{parts.username}:{parts.password}"] if parts.password else []
    return [SecretStr(v) for v in found if v]


def read_secret(value: SecretStr | None, file: Path | None) -> SecretStr | None:
    """A secret from the environment-provided value, else from its file (systemd credentials)."""
    if value is not None:
        return value
    if file is None:
        return None
    try:
        return SecretStr(file.read_text().strip())
    except OSError as exc:
        raise ConfigError(f"cannot read secret file {file}: {exc.strerror}") from None


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret masked (for check-config and status)."""
    data = settings.model_dump(mode="json")
    for venue in data.get("venues", {}).values():
        for key in ("rest_url", "ws_url"):
            if isinstance(venue.get(key), str):
                venue[key] = mask_url_credentials(venue[key])
    return data
