"""Risk statistics of a distribution of hedged P&L across paths. Pure and vectorised.

Owns the measures the backtest reports for each policy (docs/backtest.md): mean, standard
deviation, value at risk and expected shortfall at 95 % and 99 % (as positive losses), the mean
maximum drawdown of the P&L path and hedge effectiveness, 1 − hedged variance / unhedged
variance (1 is a perfect hedge, 0 no better than none).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class PnlStats:
    """Distribution measures of final P&L across paths, in USD."""

    mean: float
    std: float
    var95: float
    var99: float
    es95: float
    es99: float
    effectiveness: float


def value_at_risk(pnl: ArrayLike, level: float) -> float:
    """The loss exceeded with probability 1 − level (a positive number is a loss)."""
    values = np.asarray(pnl, dtype=np.float64)
    return float(-np.quantile(values, 1.0 - level))


def expected_shortfall(pnl: ArrayLike, level: float) -> float:
    """Mean loss in the worst 1 − level tail (at least one path)."""
    values = np.sort(np.asarray(pnl, dtype=np.float64))
    tail = max(1, math.floor(len(values) * (1.0 - level) + 1e-9))
    return float(-values[:tail].mean())


def effectiveness(hedged: ArrayLike, unhedged: ArrayLike) -> float:
    """1 − var(hedged) / var(unhedged); NaN when the unhedged book does not vary."""
    base = float(np.var(np.asarray(unhedged, dtype=np.float64)))
    if base <= 0:
        return math.nan
    return 1.0 - float(np.var(np.asarray(hedged, dtype=np.float64))) / base


def pnl_stats(hedged: ArrayLike, unhedged: ArrayLike) -> PnlStats:
    """Every measure of one policy's final hedged P&L against the unhedged book's."""
    values = np.asarray(hedged, dtype=np.float64)
    return PnlStats(
        mean=float(values.mean()),
        std=float(values.std(ddof=1)) if len(values) > 1 else 0.0,
        var95=value_at_risk(values, 0.95),
        var99=value_at_risk(values, 0.99),
        es95=expected_shortfall(values, 0.95),
        es99=expected_shortfall(values, 0.99),
        effectiveness=effectiveness(values, unhedged),
    )


class DrawdownTracker:
    """Running maximum drawdown of cumulative P&L, one value per path, fed step by step."""

    def __init__(self, paths: int) -> None:
        self.peak = np.zeros(paths)
        self.worst = np.zeros(paths)

    def observe(self, cumulative: FloatArray) -> None:
        """Take the cumulative P&L of every path at one step."""
        np.maximum(self.peak, cumulative, out=self.peak)
        np.maximum(self.worst, self.peak - cumulative, out=self.worst)


@dataclass(frozen=True, slots=True, kw_only=True)
class BasisRisk:
    """What is left when one underlying is hedged with another's instrument at beta."""

    beta: float
    """Coin of hedge value per coin of target value: cov(target, hedge) / var(hedge)."""
    correlation: float
    target_vol: float
    """Annualised volatility of the target's returns."""
    residual_vol: float
    """Annualised volatility of target − beta·hedge returns: the basis risk."""
    effectiveness: float
    """1 − residual variance / target variance (= correlation²)."""
    observations: int


def basis_risk(target: ArrayLike, hedge: ArrayLike, *, years: ArrayLike) -> BasisRisk:
    """Basis risk of hedging `target` returns with `hedge` returns (log returns over intervals
    of `years` each), beta estimated by least squares over the whole window."""
    t = np.asarray(target, dtype=np.float64)
    h = np.asarray(hedge, dtype=np.float64)
    dt = np.asarray(years, dtype=np.float64)
    if not t.shape == h.shape == dt.shape or len(t) < 3:
        raise ValueError("need at least three aligned returns of target, hedge and interval")
    beta = float(np.cov(t, h)[0, 1] / np.var(h, ddof=1))
    residual = t - beta * h
    per_year = 1.0 / float(dt.mean())
    return BasisRisk(
        beta=beta,
        correlation=float(np.corrcoef(t, h)[0, 1]),
        target_vol=float(np.std(t, ddof=1) * math.sqrt(per_year)),
        residual_vol=float(np.std(residual, ddof=1) * math.sqrt(per_year)),
        effectiveness=1.0 - float(np.var(residual, ddof=1) / np.var(t, ddof=1)),
        observations=len(t),
    )
