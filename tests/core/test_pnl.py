"""P&L attribution and risk statistics (hedgebot.core.pnl, hedgebot.core.pnl_stats)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from hedgebot.core.greeks import OptionGreeks, black76
from hedgebot.core.pnl import (
    Attribution,
    LiveAttribution,
    explain_option_pnl,
    slippage_bps,
    trading_cost,
)
from hedgebot.core.pnl_stats import (
    DrawdownTracker,
    effectiveness,
    expected_shortfall,
    pnl_stats,
    value_at_risk,
)
from hedgebot.core.risk import OptionTotals


def test_greek_terms_explain_a_small_move_and_sum_to_the_change() -> None:
    """A 1 % move, one vol point and one hour on a 30-day call: delta, gamma, theta and vega
    explain the revaluation to a residual under 1 % of it, and the terms add up exactly."""
    s0, s1, v0, v1, t0, dt = 60_000.0, 60_600.0, 0.60, 0.61, 30 / 365, 1 / (365 * 24)
    before = black76(s0, 61_000.0, t0, v0, True)
    after = black76(s1, 61_000.0, t0 - dt, v1, True)
    change = float(after.price - before.price)
    terms = explain_option_pnl(
        value_change=change,
        delta=float(before.delta),
        gamma=float(before.gamma),
        vega=float(before.vega),
        theta=float(before.theta),
        d_price=s1 - s0,
        d_vol=v1 - v0,
        dt_years=dt,
    )
    delta_pnl, gamma_pnl, theta_pnl, vega_pnl, residual = terms
    assert sum(terms) == pytest.approx(change, rel=1e-12)
    assert delta_pnl == pytest.approx(float(before.delta) * 600)
    assert gamma_pnl > 0 > theta_pnl
    assert vega_pnl > 0
    assert abs(residual) < 0.01 * abs(change)


def test_slippage_is_a_cost_when_a_buy_fills_higher_or_a_sell_lower() -> None:
    assert slippage_bps(order_delta=1.0, decision_price=100.0, fill_price=100.1) == pytest.approx(
        10
    )
    assert slippage_bps(order_delta=-1.0, decision_price=100.0, fill_price=100.1) == pytest.approx(
        -10
    )
    assert trading_cost(order_delta=-2.0, price=50_000.0, cost_bps=5.0) == pytest.approx(50.0)
    with pytest.raises(ValueError, match="decision price"):
        slippage_bps(order_delta=1.0, decision_price=0.0, fill_price=1.0)


def test_attribution_totals() -> None:
    book = Attribution()
    book.add_option((100.0, 20.0, -30.0, 5.0, 1.0))
    book.hedge = -95.0
    book.add_trade(fee=3.0, spread_slippage=1.0, slippage=2.0)
    book.add_trade(fee=1.0, spread_slippage=1.0, slippage=4.0)
    book.funding = -0.5
    assert book.option == pytest.approx(96.0)
    assert book.cost == pytest.approx(5.5)
    assert book.total == pytest.approx(96.0 - 95.0 - 5.5)
    shown = book.to_dict()
    assert shown["trades"] == 2
    assert shown["mean_slippage_bps"] == pytest.approx(3.0)
    assert shown["total"] == pytest.approx(-4.5)


def test_risk_measures_of_a_normal_sample_match_the_formulas() -> None:
    rng = np.random.default_rng(1)
    pnl = rng.normal(10.0, 100.0, 400_000)
    stats = pnl_stats(pnl, 3.0 * pnl)
    assert stats.mean == pytest.approx(10.0, abs=1.0)
    assert stats.std == pytest.approx(100.0, rel=0.01)
    assert stats.var95 == pytest.approx(100 * norm.ppf(0.95) - 10, rel=0.01)
    assert stats.var99 == pytest.approx(100 * norm.ppf(0.99) - 10, rel=0.01)
    es95 = 100 * norm.pdf(norm.ppf(0.95)) / 0.05 - 10
    assert stats.es95 == pytest.approx(es95, rel=0.01)
    assert stats.es99 > stats.var99 > stats.es95 > stats.var95
    assert stats.effectiveness == pytest.approx(1 - 1 / 9)


def test_tail_measures_count_losses_positive_and_effectiveness_needs_variance() -> None:
    pnl = np.arange(-50.0, 50.0)  # 100 outcomes, worst -50
    assert value_at_risk(pnl, 0.99) == pytest.approx(49.01)
    assert expected_shortfall(pnl, 0.99) == 50.0
    assert expected_shortfall(pnl, 0.95) == pytest.approx(48.0)
    assert math.isnan(effectiveness(pnl, np.zeros(100)))


def test_drawdown_is_the_largest_fall_from_a_running_peak() -> None:
    tracker = DrawdownTracker(2)
    for step in ([1.0, 0.0], [5.0, -1.0], [2.0, -4.0], [6.0, 3.0], [4.5, 2.0]):
        tracker.observe(np.array(step))
    np.testing.assert_allclose(tracker.worst, [3.0, 4.0])


def test_live_attribution_of_two_turns_and_two_fills() -> None:
    """Short one call, long 0.3 coin of hedge: a 600 USD rise over an hour. The option terms
    add up to the call's revaluation, the hedge earns 0.3·600, a fee and a rebate are kept
    apart, and slippage averages per fill."""
    hour_ms = 3_600_000
    before = black76(60_000.0, 61_000.0, 30 / 365, 0.60, True)
    after = black76(60_600.0, 61_000.0, 30 / 365 - 1 / (365 * 24), 0.61, True)

    def totals(g: OptionGreeks, iv: float) -> OptionTotals:
        return OptionTotals(
            value=-float(g.price),
            delta=-float(g.delta),
            gamma=-float(g.gamma),
            theta=-float(g.theta),
            vega=-float(g.vega) / 100,
            implied_vol=iv,
            net_delta=-float(g.delta),
            net_gamma=-float(g.gamma),
        )

    live = LiveAttribution()
    first = totals(before, 0.60)
    live.observe(
        now_ms=0,
        price=60_000.0,
        book_delta=first.delta + 2.0,
        gamma=first.gamma,
        hedge_position=0.3,
        options=first,
    )
    live.observe(
        now_ms=hour_ms,
        price=60_600.0,
        book_delta=0.0,
        gamma=0.0,
        hedge_position=0.0,
        options=totals(after, 0.61),
    )
    change = -float(after.price - before.price)
    assert live.option == pytest.approx(change, rel=1e-12)
    assert live.option_delta == pytest.approx(-float(before.delta) * 600)
    assert live.option_theta > 0 > live.option_vega  # short: earns time, loses on vol up
    assert abs(live.option_residual) < 0.01 * abs(change)
    assert live.other == pytest.approx(2.0 * 600)  # two coins of other delta
    assert live.hedge == pytest.approx(0.3 * 600)
    live.add_fill(fee_usd=3.0, slippage_usd=1.5, slippage=2.0)
    live.add_fill(fee_usd=-1.0, slippage_usd=0.5, slippage=1.0)
    shown = live.to_dict()
    assert shown["fees_usd"] == 3.0
    assert shown["rebates_usd"] == 1.0
    assert shown["mean_slippage_bps"] == 1.5
    assert shown["total_usd"] == pytest.approx(change + 1200 + 180 - 3 + 1 - 2, abs=1e-5)
