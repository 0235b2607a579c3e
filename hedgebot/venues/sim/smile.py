"""Implied volatility surface of the simulated options: term structure and smile.

Owns two formulas, vectorised over options (every parameter broadcasts) and bounded so every
mark_iv is sane and positive:

* at-the-money vol for expiry τ = (1 + iv_premium)·(σ̄ + (σ_now − σ̄)·(1 − e^{−κτ})/(κτ)), the
  expected average of the mean-reverting vol over the option's life (κ from the vol half-life),
  clipped to [5%, 500%];
* smile: iv = atm·clip(1 + skew·k + curvature·k², 0.5, 3) with k = ln(K/F)/√max(τ, 1 day).

It must not price options (`hedgebot.core.greeks` does) or know about instruments.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
MIN_SMILE_TAU = 1.0 / 365.0
SMILE_BOUNDS = (0.5, 3.0)
ATM_VOL_BOUNDS = (0.05, 5.0)
_HOURS_PER_YEAR = 365.0 * 24.0


def atm_vol(
    *,
    vol_now: FloatArray,
    long_run_vol: FloatArray,
    half_life_hours: FloatArray,
    iv_premium: FloatArray,
    tau: FloatArray,
) -> FloatArray:
    """At-the-money implied vol of expiry `tau` (years) given the current total vol `vol_now`."""
    kappa = math.log(2) * _HOURS_PER_YEAR / half_life_hours
    x = kappa * np.maximum(tau, 1e-9)
    weight = -np.expm1(-x) / x
    expected = long_run_vol + (vol_now - long_run_vol) * weight
    return _bounded((1.0 + iv_premium) * expected, ATM_VOL_BOUNDS)


def smile_vol(
    *,
    atm: FloatArray,
    forward: FloatArray,
    strike: FloatArray,
    tau: FloatArray,
    skew: FloatArray,
    curvature: FloatArray,
) -> FloatArray:
    """Implied vol at `strike` on the smile around `atm` for forward `forward` and expiry `tau`."""
    k = np.log(strike / forward) / np.sqrt(np.maximum(tau, MIN_SMILE_TAU))
    factor = _bounded(1.0 + skew * k + curvature * k * k, SMILE_BOUNDS)
    return atm * factor


def _bounded(values: FloatArray, bounds: tuple[float, float]) -> FloatArray:
    """`values` clipped to `bounds` (np.clip is several times slower on small arrays)."""
    low, high = bounds
    return np.minimum(np.maximum(values, low), high)
