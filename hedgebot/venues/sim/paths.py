"""Seeded random paths of one underlying on a fixed time grid: spot, its volatility, perp premium.

Owns the dynamics (one step = `step_seconds` of simulated time, step 0 = the settings' spot):

* log instantaneous diffusive vol y is an Ornstein–Uhlenbeck process around 0 with stationary
  standard deviation s = `vol_of_vol`; σ = σ_d·exp(y − s²) so that E[σ²] = σ_d²;
* log spot moves by σ√dt·z − σ²dt/2 plus compensated Poisson jumps (rate `jumps_per_day`,
  normal log sizes of std `jump_std`), so spot is a martingale and its total variance is `vol`²;
* the perpetual's premium over spot is an Ornstein–Uhlenbeck process around `perp_premium_mean`.

Paths are generated in fixed blocks from one numpy Generator per underlying, seeded from the base
seed and the underlying's name, so they do not depend on how callers step through time or on
which other underlyings exist. It must not know about instruments, quotes or orders.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from hedgebot.venues.sim.settings import SECONDS_PER_YEAR, UnderlyingSettings

FloatArray = NDArray[np.float64]
BLOCK_STEPS = 3600


def path_seed(base_seed: int, underlying: str) -> np.random.SeedSequence:
    """The seed of one underlying's generator: stable across runs, platforms and Python hashes."""
    return np.random.SeedSequence([base_seed, *underlying.encode()])


class UnderlyingPath:
    """Spot, instantaneous vol, perp premium and jump counts at every grid step generated so far."""

    def __init__(
        self, settings: UnderlyingSettings, *, base_seed: int, step_seconds: float
    ) -> None:
        self.settings = settings
        self._rng = np.random.default_rng(path_seed(base_seed, settings.name))
        self._dt = step_seconds / SECONDS_PER_YEAR
        self._vol_phi = math.exp(
            -math.log(2) * step_seconds / (3600 * settings.vol_half_life_hours)
        )
        hours = settings.perp_premium_half_life_hours
        self._premium_phi = math.exp(-math.log(2) * step_seconds / (3600 * hours))
        self._jump_probability = settings.jumps_per_day * step_seconds / 86_400
        self._vol_scale = settings.diffusive_vol * math.exp(-(settings.vol_of_vol**2))
        self._first = 0
        self._log_vol = np.zeros(1)
        self._log_spot = np.array([math.log(settings.spot)])
        self._premium = np.array([settings.perp_premium_mean])
        self._jumps = np.zeros(1, dtype=np.int64)

    @property
    def last_step(self) -> int:
        """The latest step generated."""
        return self._first + len(self._log_spot) - 1

    def ensure(self, step: int) -> None:
        """Generate blocks until `step` exists."""
        while self.last_step < step:
            self._append_block()

    def forget_before(self, step: int) -> None:
        """Drop steps before `step` (they will never be read again) to bound memory."""
        drop = min(step, self.last_step) - self._first
        if drop >= BLOCK_STEPS:
            self._log_vol = self._log_vol[drop:]
            self._log_spot = self._log_spot[drop:]
            self._premium = self._premium[drop:]
            self._jumps = self._jumps[drop:]
            self._first += drop

    def state(self, step: int) -> tuple[float, float, float]:
        """(spot, instantaneous diffusive vol, perp premium) at one step."""
        if not self._first <= step <= self.last_step:
            raise IndexError(f"step {step} outside {self._first}..{self.last_step}")
        i = step - self._first
        vol = self._vol_scale * math.exp(float(self._log_vol[i]))
        return math.exp(float(self._log_spot[i])), vol, float(self._premium[i])

    def spot(self, first: int, last: int) -> FloatArray:
        """Spot at steps first..last inclusive."""
        spot: FloatArray = np.exp(self._log_spot[self._window(first, last)])
        return spot

    def vol(self, first: int, last: int) -> FloatArray:
        """Instantaneous diffusive vol (annualised) at steps first..last inclusive."""
        vol: FloatArray = self._vol_scale * np.exp(self._log_vol[self._window(first, last)])
        return vol

    def premium(self, first: int, last: int) -> FloatArray:
        """Perpetual premium over spot (fraction) at steps first..last inclusive."""
        return self._premium[self._window(first, last)]

    def jumps(self, first: int, last: int) -> NDArray[np.int64]:
        """Number of jumps that happened in the step ending at each of steps first..last."""
        return self._jumps[self._window(first, last)]

    def _window(self, first: int, last: int) -> slice:
        if first < self._first or last > self.last_step or first > last:
            raise IndexError(f"steps {first}..{last} outside {self._first}..{self.last_step}")
        return slice(first - self._first, last - self._first + 1)

    def _append_block(self) -> None:
        s, rng, n = self.settings, self._rng, BLOCK_STEPS
        vol_shocks = rng.standard_normal(n)
        price_shocks = rng.standard_normal(n)
        premium_shocks = rng.standard_normal(n)
        jump_counts = rng.poisson(self._jump_probability, n)
        jump_shocks = rng.standard_normal(n)

        log_vol = _ar1(self._log_vol[-1], self._vol_phi, s.vol_of_vol, vol_shocks)
        prior_log_vol = np.concatenate((self._log_vol[-1:], log_vol[:-1]))
        sigma = self._vol_scale * np.exp(prior_log_vol)
        jump_sizes = s.jump_std * np.sqrt(jump_counts) * jump_shocks
        compensator = self._jump_probability * math.expm1(0.5 * s.jump_std**2)
        returns = sigma * math.sqrt(self._dt) * price_shocks - 0.5 * sigma**2 * self._dt
        returns += jump_sizes - compensator
        log_spot = self._log_spot[-1] + np.cumsum(returns)

        deviation = self._premium[-1] - s.perp_premium_mean
        premium = s.perp_premium_mean + _ar1(
            deviation, self._premium_phi, s.perp_premium_std, premium_shocks
        )
        self._log_vol = np.concatenate((self._log_vol, log_vol))
        self._log_spot = np.concatenate((self._log_spot, log_spot))
        self._premium = np.concatenate((self._premium, premium))
        self._jumps = np.concatenate((self._jumps, jump_counts))


def _ar1(start: float, phi: float, stationary_std: float, shocks: FloatArray) -> FloatArray:
    """x_i = φ·x_{i−1} + std·√(1−φ²)·z_i from x_0 = start, for i = 1..len(shocks)."""
    scale = stationary_std * math.sqrt(1.0 - phi * phi)
    result = lfilter([1.0], [1.0, -phi], scale * shocks, zi=[phi * start])[0]
    return np.asarray(result, dtype=np.float64)
