"""Monte Carlo market paths for the backtest: spot with jumps and stochastic volatility.

Owns `MarketPaths` (spot and implied vol of every path at every step) and `simulate`, which draws
them, vectorised across paths, from one seeded numpy Generator:

* log diffusive vol is an Ornstein–Uhlenbeck process around 0 with stationary standard
  deviation `vol_of_vol` and half-life `vol_half_life_hours`; σ = σ_d·exp(y − s²);
* log spot moves by (μ − σ²/2)·dt + σ√dt·z plus compensated normal jumps (`jumps_per_day`,
  `jump_std`), so with drift μ = 0 spot is a martingale and its total variance is `vol`²;
* options are revalued at the implied vol `(1 + iv_premium)·σ_t` on the smile (`book`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
SECONDS_PER_YEAR = 365.0 * 24 * 3600


@dataclass(frozen=True, slots=True, kw_only=True)
class MonteCarloSettings:
    """Dynamics of the simulated underlying and the grid of one backtest."""

    paths: int = 1000
    days: float = 30.0
    step_minutes: float = 15.0
    spot: float = 60_000.0
    vol: float = 0.55
    vol_of_vol: float = 0.25
    vol_half_life_hours: float = 24.0
    jumps_per_day: float = 3.0
    jump_std: float = 0.005
    drift: float = 0.0
    iv_premium: float = 0.0
    seed: int = 7

    def __post_init__(self) -> None:
        if self.paths < 1 or self.days <= 0 or self.step_minutes <= 0:
            raise ValueError("paths, days and step_minutes must be positive")
        if self.spot <= 0 or self.vol <= 0:
            raise ValueError("spot and vol must be positive")
        if self.jumps_per_day * 365.0 * self.jump_std**2 >= self.vol**2:
            raise ValueError("jumps alone exceed the configured vol")

    @property
    def steps(self) -> int:
        """Number of intervals on the grid."""
        return max(1, round(self.days * 1440 / self.step_minutes))


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketPaths:
    """Spot and at-the-money implied vol of `paths` paths at `steps + 1` instants."""

    start_ms: int
    step_ms: int
    spot: FloatArray
    """Shape (paths, steps + 1)."""
    implied_vol: FloatArray
    """Shape (paths, steps + 1): the ATM vol options are revalued at."""
    source: str

    @property
    def paths(self) -> int:
        """Number of paths."""
        return int(self.spot.shape[0])

    @property
    def steps(self) -> int:
        """Number of intervals."""
        return int(self.spot.shape[1]) - 1

    @property
    def dt_years(self) -> float:
        """Length of one interval in years (ACT/365)."""
        return self.step_ms / 1000.0 / SECONDS_PER_YEAR

    def path(self, index: int) -> MarketPaths:
        """One path alone."""
        return MarketPaths(
            start_ms=self.start_ms,
            step_ms=self.step_ms,
            spot=self.spot[index : index + 1],
            implied_vol=self.implied_vol[index : index + 1],
            source=f"{self.source} path {index}",
        )


def simulate(settings: MonteCarloSettings, *, start_ms: int) -> MarketPaths:
    """Draw the paths of `settings` (deterministic for a seed)."""
    s = settings
    rng = np.random.default_rng(s.seed)
    n, steps = s.paths, s.steps
    step_s = s.step_minutes * 60.0
    dt = step_s / SECONDS_PER_YEAR
    jump_probability = s.jumps_per_day * step_s / 86_400.0
    diffusive = math.sqrt(s.vol**2 - s.jumps_per_day * 365.0 * s.jump_std**2)
    phi = math.exp(-math.log(2) * step_s / (3600.0 * s.vol_half_life_hours))
    log_vol = np.empty((n, steps + 1))
    log_vol[:, 0] = 0.0
    vol_shocks = rng.standard_normal((n, steps)) * (s.vol_of_vol * math.sqrt(1.0 - phi * phi))
    for t in range(steps):
        log_vol[:, t + 1] = phi * log_vol[:, t] + vol_shocks[:, t]
    sigma = diffusive * np.exp(log_vol - s.vol_of_vol**2)
    z = rng.standard_normal((n, steps))
    counts = rng.poisson(jump_probability, (n, steps))
    jumps = s.jump_std * np.sqrt(counts) * rng.standard_normal((n, steps))
    compensator = jump_probability * math.expm1(0.5 * s.jump_std**2)
    prior = sigma[:, :-1]
    returns = (s.drift - 0.5 * prior**2) * dt + prior * math.sqrt(dt) * z + jumps - compensator
    log_spot = np.empty((n, steps + 1))
    log_spot[:, 0] = math.log(s.spot)
    np.cumsum(returns, axis=1, out=log_spot[:, 1:])
    log_spot[:, 1:] += math.log(s.spot)
    total_vol = np.sqrt(sigma**2 + s.jumps_per_day * 365.0 * s.jump_std**2)
    return MarketPaths(
        start_ms=start_ms,
        step_ms=round(step_s * 1000),
        spot=np.exp(log_spot),
        implied_vol=(1.0 + s.iv_premium) * total_vol,
        source=f"monte carlo, {n} paths, seed {s.seed}",
    )
