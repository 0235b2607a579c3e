"""What one policy did on every path: costs, hedge P&L, trades; and the cost model it paid.

Owns `CostModel` (fees, half spread, market impact, perpetual funding, financing rate) and
`Outcome`, the per-path totals both engines produce, so they can be compared field by field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hedgebot.backtest.book import BookPaths
from hedgebot.core.pnl_stats import PnlStats, pnl_stats

FloatArray = NDArray[np.float64]
FUNDING_PERIOD_MS = 8 * 3600 * 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class CostModel:
    """Costs of hedging: a trade of q coin at mid S pays |q|·S·(fee + half spread + impact)."""

    fee_bps: float = 5.0
    half_spread_bps: float = 1.0
    impact_bps: float = 0.0
    funding_rate_8h: float = 0.0001
    """Perpetual funding per 8 hours (longs pay shorts when positive)."""
    rate: float = 0.0
    """Annual rate at which the book's initial value is financed."""

    @property
    def slippage_bps(self) -> float:
        """Fill price against the decision-time mid, in bps (half spread plus impact)."""
        return self.half_spread_bps + self.impact_bps

    def funding_per_step(self, step_ms: int) -> float:
        """Funding rate accrued over one step."""
        return self.funding_rate_8h * step_ms / FUNDING_PERIOD_MS


def band_share(bands: FloatArray, gross: FloatArray) -> FloatArray:
    """Per path, the mean over the steps with options of half-width / options' gross delta
    (nan on a path without options): how wide the band ran relative to the options' delta."""
    has_options = gross > 0
    shares = np.where(has_options, bands / np.where(has_options, gross, 1.0), 0.0)
    counts = has_options.sum(axis=1)
    result: FloatArray = np.where(counts > 0, shares.sum(axis=1) / np.maximum(counts, 1), np.nan)
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """One policy on every path; every array has one value per path, in USD unless stated."""

    policy: str
    hedge_pnl: FloatArray
    fees: FloatArray
    spread_slippage: FloatArray
    funding: FloatArray
    trades: NDArray[np.int64]
    outside_steps: NDArray[np.int64]
    band_share: FloatArray
    """Mean over the steps of the band's half-width in the options' gross delta (nan without
    options)."""
    max_drawdown: FloatArray
    final_position: FloatArray
    """Hedge position at the end, in coin."""
    vetoes: NDArray[np.int64]
    """Hedges the guards refused (event engine with guards only; else 0)."""
    orders: FloatArray | None = None
    """(paths, steps): coin traded at each step, when recorded."""

    @property
    def cost(self) -> FloatArray:
        """Hedging cost per path: fees, spread and slippage, funding."""
        cost: FloatArray = self.fees + self.spread_slippage + self.funding
        return cost

    def hedged(self, book: BookPaths) -> FloatArray:
        """Final hedged P&L per path."""
        hedged: FloatArray = book.unhedged + self.hedge_pnl - self.cost
        return hedged

    def stats(self, book: BookPaths) -> PnlStats:
        """Distribution of the hedged P&L against the unhedged book's."""
        return pnl_stats(self.hedged(book), book.unhedged)
