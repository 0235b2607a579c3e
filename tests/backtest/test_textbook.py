"""The backtest against the textbook: Derman & Kamal's discrete-hedging error, and Whalley–Wilmott
bands beating clock hedging at equal cost under proportional costs (docs/backtest.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedgebot.backtest.book import revalue
from hedgebot.backtest.market import simulate
from hedgebot.backtest.outcome import CostModel
from hedgebot.backtest.policies import Policy, clock_policy, whalley_wilmott
from hedgebot.backtest.vectorised import run_vectorised
from hedgebot.core.greeks import black76
from hedgebot.core.policy import RebalanceTo
from tests.backtest.reference import (
    SPOT,
    START_MS,
    VOL,
    continuous_rule,
    plain_market,
    short_call_book,
)

FREE = CostModel(fee_bps=0.0, half_spread_bps=0.0, funding_rate_8h=0.0)


@pytest.mark.parametrize("hedges", [16, 64, 256])
def test_discrete_hedging_error_follows_derman_kamal(hedges: int) -> None:
    """Hedging an ATM call N times without costs leaves a P&L whose standard deviation is
    √(π/4)·vega·σ/√N (Derman & Kamal 1999), within Monte Carlo error plus the formula's
    small-N bias, and whose mean is zero within its standard error."""
    paths = 3000
    market = simulate(
        plain_market(paths=paths, days=30.0, step_minutes=30 * 1440 / hedges, seed=hedges),
        start_ms=START_MS,
    )
    book = short_call_book(days=30.0)
    revalued = revalue(book, market)
    outcome = run_vectorised(
        name="continuous", book=book, paths=revalued, rule=continuous_rule(), costs=FREE
    )
    pnl = outcome.hedged(revalued)
    vega = float(black76(SPOT, SPOT, 30 / 365, VOL, True).vega)
    expected = math.sqrt(math.pi / 4) * vega * VOL / math.sqrt(hedges)
    sampling = 2.5 / math.sqrt(2 * paths)  # relative standard error of a std estimate, 2.5σ
    bias = 0.06 if hedges == 16 else 0.02
    assert abs(pnl.std() / expected - 1.0) < sampling + bias
    assert abs(pnl.mean()) < 3.0 * pnl.std() / math.sqrt(paths)
    # one rebalance per interval (deep in or out of the money near expiry, delta may move by
    # less than one lot)
    assert outcome.trades.max() == hedges
    assert np.median(outcome.trades) >= 0.95 * hedges


def test_whalley_wilmott_beats_clock_hedging_at_equal_cost() -> None:
    """Short 30-day ATM call, σ 60 %, 5 bp proportional cost: at every cost the clock policies
    span, a Whalley–Wilmott band reaches a clearly lower P&L standard deviation than the clock
    frontier (interpolated between rebalancing intervals)."""
    costs = CostModel(fee_bps=5.0, half_spread_bps=0.0, funding_rate_8h=0.0)
    market = simulate(
        plain_market(paths=1000, days=30.0, step_minutes=15.0, seed=1), start_ms=START_MS
    )
    book = short_call_book(days=30.0)
    revalued = revalue(book, market)
    base = continuous_rule()

    def frontier(policies: list[Policy]) -> list[tuple[float, float]]:
        points = []
        for policy in policies:
            outcome = run_vectorised(
                name=policy.name,
                book=book,
                paths=revalued,
                rule=policy.rule,
                costs=costs,
            )
            points.append((float(outcome.cost.mean()), float(outcome.hedged(revalued).std())))
        return sorted(points)

    clock = frontier([clock_policy(base, m) for m in (60, 120, 240, 480, 960)])
    ww = frontier(
        whalley_wilmott(
            base, [3.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0], cost_bps=5.0, to=RebalanceTo.EDGE
        )
    )
    clock_costs, clock_stds = zip(*clock, strict=True)
    compared = [(c, s) for c, s in ww if clock_costs[0] <= c <= clock_costs[-1]]
    assert len(compared) >= 2, f"no overlap of costs: clock {clock}, ww {ww}"
    for cost, std in compared:
        clock_std = float(np.interp(cost, clock_costs, clock_stds))
        assert std < 0.8 * clock_std, f"at cost {cost:.0f}: ww std {std:.0f}, clock {clock_std:.0f}"
