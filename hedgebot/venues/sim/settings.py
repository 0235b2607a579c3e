"""Settings of the simulated venue, as frozen values with defaults realistic for BTC, ETH and SOL.

Owns `UnderlyingSettings` (price dynamics and contract specs of one underlying), `BookSettings`
(spread and depth of the synthetic books), `FeeSettings` and `MarketSettings` (everything
together, with the Deribit-like standard margin: the core's `MarginRates`). It must not simulate
anything: the modules that do read these values.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from hedgebot.core.margin_model import MarginRates

SECONDS_PER_YEAR = 365.0 * 24 * 3600
DEFAULT_START_MS = int(dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp() * 1000)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderlyingSettings:
    """Price dynamics and contract specs of one underlying (names follow Deribit)."""

    name: str
    spot: float
    vol: float
    """Total annualised volatility of the spot path (diffusion and jumps together)."""
    vol_of_vol: float = 0.25
    """Stationary standard deviation of the log of the instantaneous diffusive volatility."""
    vol_half_life_hours: float = 24.0
    jumps_per_day: float = 3.0
    jump_std: float = 0.005
    """Standard deviation of the log size of one jump (mean zero, compensated)."""
    basis: float = 0.05
    """Annualised basis of dated futures: forward = spot·exp(basis·τ)."""
    perp_premium_mean: float = 0.0001
    perp_premium_std: float = 0.0005
    perp_premium_half_life_hours: float = 2.0
    iv_premium: float = 0.05
    """Implied volatility over the expected realised volatility (0.05 = 5% richer)."""
    smile_skew: float = -0.1
    smile_curvature: float = 0.2
    inverse_contract_usd: float = 10.0
    inverse_tick: float = 0.5
    option_contract: float = 0.1
    option_tick: float = 0.0005
    linear_contract: float = 0.001
    linear_tick: float = 0.5
    spot_contract: float = 0.0001
    spot_tick: float = 0.5

    def __post_init__(self) -> None:
        if not self.name.isalnum() or not self.name.isupper():
            raise ValueError(f"underlying name must be upper-case alphanumeric, got {self.name!r}")
        if self.spot <= 0 or self.vol <= 0:
            raise ValueError(f"{self.name}: spot and vol must be positive")
        if self.jump_variance_rate >= self.vol**2:
            raise ValueError(f"{self.name}: jumps alone exceed the configured vol")
        for name in ("vol_of_vol", "jumps_per_day", "jump_std", "perp_premium_std"):
            if getattr(self, name) < 0:
                raise ValueError(f"{self.name}: {name} must not be negative")
        if self.vol_half_life_hours <= 0 or self.perp_premium_half_life_hours <= 0:
            raise ValueError(f"{self.name}: half-lives must be positive")

    @property
    def jump_variance_rate(self) -> float:
        """Annualised variance the jumps contribute."""
        return self.jumps_per_day * 365.0 * self.jump_std**2

    @property
    def diffusive_vol(self) -> float:
        """Long-run diffusive volatility, so that diffusion plus jumps gives `vol`."""
        return math.sqrt(self.vol**2 - self.jump_variance_rate)


BTC = UnderlyingSettings(name="BTC", spot=60_000.0, vol=0.55)
ETH = UnderlyingSettings(
    name="ETH",
    spot=3_000.0,
    vol=0.70,
    jump_std=0.006,
    inverse_contract_usd=1.0,
    inverse_tick=0.05,
    option_contract=1.0,
    linear_contract=0.01,
    linear_tick=0.05,
    spot_tick=0.05,
)
SOL = UnderlyingSettings(
    name="SOL",
    spot=150.0,
    vol=0.85,
    jump_std=0.008,
    inverse_contract_usd=1.0,
    inverse_tick=0.01,
    option_contract=1.0,
    linear_contract=0.1,
    linear_tick=0.01,
    spot_contract=0.01,
    spot_tick=0.01,
)
DEFAULT_UNDERLYINGS = (BTC, ETH, SOL)


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSettings:
    """Shape of the synthetic order books: spread around the mark and depth away from the top."""

    future_spread_bps: float = 1.0
    """Full bid/ask width of perpetuals and dated futures, in bps of the mark (at least a tick)."""
    spot_spread_bps: float = 2.0
    option_spread_bps: float = 300.0
    """Full width of options, in bps of the option's own premium (at least a tick)."""
    levels: int = 5
    level_spacing_bps: float = 1.0
    option_level_spacing_bps: float = 100.0
    top_depth_usd: float = 250_000.0
    """Size of the best level of futures, perpetuals and spot, as USD notional."""
    option_top_depth_usd: float = 30_000.0
    """Size of the best level of options, as USD notional of the underlying."""
    depth_growth: float = 1.5
    """Each level away from the top holds this many times the size of the one before."""

    def __post_init__(self) -> None:
        if self.levels < 1 or self.depth_growth < 1:
            raise ValueError("a book needs at least one level and non-shrinking depth")
        if min(self.top_depth_usd, self.option_top_depth_usd) <= 0:
            raise ValueError("book depth must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class FeeSettings:
    """Deribit-like fees: rates of notional; options of the underlying, capped by premium."""

    future_maker: float = 0.0
    future_taker: float = 0.0005
    spot_maker: float = 0.0
    spot_taker: float = 0.0005
    option_rate: float = 0.0003
    """Option fee per coin of underlying, maker and taker alike."""
    option_cap: float = 0.125
    """An option fee never exceeds this fraction of the premium."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketSettings:
    """Everything the simulated venue needs besides accounts and the instruments it lists."""

    underlyings: tuple[UnderlyingSettings, ...] = DEFAULT_UNDERLYINGS
    seed: int = 1
    start_ms: int = DEFAULT_START_MS
    step_seconds: float = 1.0
    """Grid of the price paths: prices change only at multiples of this after `start_ms`."""
    latency_ms: int = 50
    """An order becomes live (and can match) this long after it was submitted."""
    funding_interval_hours: float = 8.0
    funding_cap: float = 0.005
    """Largest funding rate per interval, either sign."""
    account_push_seconds: float = 5.0
    """Streamed account snapshots are pushed at least this often, and after every fill."""
    book: BookSettings = field(default_factory=BookSettings)
    fees: FeeSettings = field(default_factory=FeeSettings)
    margin: MarginRates = field(default_factory=MarginRates)

    def __post_init__(self) -> None:
        if self.step_ms < 1:
            raise ValueError("step_seconds must be at least one millisecond")
        if self.latency_ms < 0 or self.funding_interval_hours <= 0:
            raise ValueError("latency must not be negative and funding interval must be positive")
        names = [u.name for u in self.underlyings]
        if len(set(names)) != len(names):
            raise ValueError(f"underlyings configured twice: {names}")

    @property
    def step_ms(self) -> int:
        """Grid step in milliseconds."""
        return round(self.step_seconds * 1000)

    def underlying(self, name: str) -> UnderlyingSettings:
        """Settings of one underlying; ValueError if it is not configured."""
        for settings in self.underlyings:
            if settings.name == name:
                return settings
        known = ", ".join(u.name for u in self.underlyings)
        raise ValueError(f"underlying {name!r} is not configured (known: {known})")
