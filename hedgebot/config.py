"""Settings: the TOML file plus ``HEDGEBOT__SECTION__KEY`` environment overrides, validated.

Owns the schema (unknown keys rejected everywhere), the consistency checks across sections, and
`load_settings`, which turns every problem into one `ConfigError` line naming the key. Secrets
are `SecretStr` and come only from the environment or secret files, never from the TOML file.
It must not start anything: loading a config has no side effects besides reading files.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from hedgebot.model.errors import ConfigError

_SECRET_KEYS_IN_TOML = frozenset({"api_key", "api_secret", "control_token"})


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
    api_key_file: Path | None = None
    api_secret_file: Path | None = None
    stale_after_s: float = Field(default=15.0, gt=0)
    reconcile_interval_s: float = Field(default=30.0, gt=0)
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


class FixedBand(Section):
    """A band of constant half-width in coin."""

    kind: Literal["fixed"] = "fixed"
    half_width: float = Field(gt=0)


class PercentBand(Section):
    """A band of half-width `percent` of the book's gross delta, clamped to [minimum, maximum]."""

    kind: Literal["percent"]
    percent: float = Field(gt=0, le=100)
    minimum: float = Field(gt=0)
    maximum: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> PercentBand:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum ({self.minimum}) must not exceed maximum ({self.maximum})")
        return self


class WhalleyWilmottBand(Section):
    """Whalley–Wilmott band: H = (3/2 · κ · S · Γ² / γ)^(1/3), clamped to [minimum, maximum]."""

    kind: Literal["whalley_wilmott"]
    risk_aversion: float = Field(gt=0)
    """γ, per USD."""
    cost_bps: float = Field(gt=0)
    """κ, the one-way proportional cost in basis points."""
    minimum: float = Field(gt=0)
    maximum: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> WhalleyWilmottBand:
        if self.minimum > self.maximum:
            raise ValueError(f"minimum ({self.minimum}) must not exceed maximum ({self.maximum})")
        return self


BandSettings = Annotated[FixedBand | PercentBand | WhalleyWilmottBand, Field(discriminator="kind")]


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
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    _refuse_secrets(data, prefix="")
    return data


def _refuse_secrets(data: Mapping[str, Any], *, prefix: str) -> None:
    for key, value in data.items():
        where = f"{prefix}{key}"
        if key in _SECRET_KEYS_IN_TOML:
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
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_first_error_line(exc)) from None
    finally:
        if saved is not None:
            os.environ.clear()
            os.environ.update(saved)


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


def world_readable_warning(path: Path) -> str | None:
    """A warning when the config file can be read by other users (it may hold sensitive data);
    never for the starter books shipped with hedgebot (hedgebot/defaults), which hold none."""
    if path.resolve().parent == Path(__file__).resolve().parent / "defaults":
        return None
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        return f"{path} is readable by other users; chmod 600 it"
    return None


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
    return settings.model_dump(mode="json")
