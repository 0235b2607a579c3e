"""Properties of the hedge policy: the promises an operator relies on."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgebot.core.policy import (
    Action,
    FixedBand,
    HedgeRule,
    PercentBand,
    PolicyInputs,
    RebalanceTo,
    WhalleyWilmottBand,
    decide,
    moves_to_band_edge,
)

deltas = st.floats(min_value=-500, max_value=500, allow_nan=False)
bands = st.floats(min_value=0.01, max_value=20)
lots = st.sampled_from([0.0001, 0.001, 0.01, 0.1, 1.0])


@st.composite
def rules(draw: st.DrawFn) -> HedgeRule:
    min_order = draw(st.floats(min_value=0.0001, max_value=2))
    max_order = draw(st.floats(min_value=min_order * 1.01 + 0.01, max_value=100))
    return HedgeRule(
        target=draw(st.floats(min_value=-10, max_value=10)),
        band=FixedBand(draw(bands)),
        rebalance_to=draw(st.sampled_from(list(RebalanceTo))),
        min_order=min_order,
        max_order=max_order,
        max_position=draw(st.floats(min_value=max_order, max_value=1000)),
        cooldown_ms=draw(st.integers(min_value=0, max_value=60_000)),
    )


@st.composite
def inputs(draw: st.DrawFn) -> PolicyInputs:
    return PolicyInputs(
        underlying="BTC",
        now_ms=draw(st.integers(min_value=0, max_value=10**9)),
        net_delta=draw(deltas),
        gross_delta=abs(draw(deltas)),
        gamma=draw(st.floats(min_value=0, max_value=1e-3)),
        price=60_000.0,
        hedge_position=draw(st.floats(min_value=-100, max_value=100)),
        lot=draw(lots),
        order_in_flight=draw(st.booleans()),
        last_hedge_ms=draw(st.none() | st.integers(min_value=0, max_value=10**9)),
    )


@given(rules(), inputs())
def test_never_trades_inside_the_band(rule: HedgeRule, data: PolicyInputs) -> None:
    """Delta inside the band never produces an order."""
    decision = decide(rule, data)
    if abs(data.net_delta - rule.target) <= decision.band:
        assert decision.action is Action.HOLD
        assert decision.order_delta == 0


@given(rules(), inputs())
def test_every_trade_reduces_the_gap_and_stays_within_limits(
    rule: HedgeRule, data: PolicyInputs
) -> None:
    """An order always moves delta strictly closer to target, in whole lots within min/max."""
    decision = decide(rule, data)
    if decision.action is Action.HOLD:
        return
    gap = data.net_delta - rule.target
    after = gap + decision.order_delta
    assert abs(after) < abs(gap)
    assert math.copysign(1.0, gap) * after >= -decision.band - 1e-9  # never past the far edge
    size = abs(decision.order_delta)
    assert rule.min_order - 1e-9 <= size <= rule.max_order + 1e-9
    assert math.isclose(size / data.lot, round(size / data.lot), abs_tol=1e-6)
    assert abs(data.hedge_position + decision.order_delta) <= max(
        rule.max_position + 1e-9, abs(data.hedge_position)
    )


@given(rules(), inputs())
def test_never_sends_while_in_flight_or_cooling_down(rule: HedgeRule, data: PolicyInputs) -> None:
    """With an order in flight, or within the cooldown, the policy holds."""
    decision = decide(rule, data)
    cooling = data.last_hedge_ms is not None and data.now_ms - data.last_hedge_ms < rule.cooldown_ms
    if data.order_in_flight or cooling:
        assert decision.action is Action.HOLD


def _inputs(net_delta: float, **changes: object) -> PolicyInputs:
    base = {
        "underlying": "BTC",
        "now_ms": 1_000_000,
        "net_delta": net_delta,
        "gross_delta": 10.0,
        "gamma": 0.0,
        "price": 60_000.0,
        "hedge_position": 0.0,
        "lot": 0.001,
        "order_in_flight": False,
        "last_hedge_ms": None,
    }
    base.update(changes)
    return PolicyInputs(**base)  # type: ignore[arg-type]


def _rule(**changes: object) -> HedgeRule:
    base: dict[str, object] = {
        "target": 0.0,
        "band": FixedBand(0.5),
        "rebalance_to": RebalanceTo.EDGE,
        "min_order": 0.01,
        "max_order": 5.0,
        "max_position": 50.0,
        "cooldown_ms": 5_000,
    }
    base.update(changes)
    return HedgeRule(**base)  # type: ignore[arg-type]


def test_trading_to_the_edge_sells_only_the_excess() -> None:
    """Long 2 coin with a ±0.5 band sells 1.5 to the edge, 2 to the target."""
    assert decide(_rule(), _inputs(2.0)).order_delta == -1.5
    assert decide(_rule(rebalance_to=RebalanceTo.TARGET), _inputs(2.0)).order_delta == -2.0


def test_max_order_caps_a_large_hedge_and_says_so() -> None:
    """A gap of 20 coin is hedged 5 at a time, and the reason names the cap."""
    decision = decide(_rule(), _inputs(-20.0))
    assert decision.order_delta == 5.0
    assert "max_order" in decision.reason


def test_max_position_stops_further_hedging() -> None:
    """With the hedge position at its maximum, the policy holds and explains why."""
    decision = decide(_rule(max_position=10.0), _inputs(3.0, hedge_position=-10.0))
    assert decision.action is Action.HOLD
    assert "max hedge position" in decision.reason


def test_cooldown_then_trades() -> None:
    """Inside the cooldown it holds; after it, it trades."""
    rule = _rule()
    assert decide(rule, _inputs(2.0, last_hedge_ms=999_000)).action is Action.HOLD
    assert decide(rule, _inputs(2.0, last_hedge_ms=990_000)).action is Action.HEDGE


def test_percent_band_scales_with_gross_delta_within_bounds() -> None:
    """5% of 100 coin gross is a 5 coin band, clamped to [1, 3]."""
    band = PercentBand(percent=5, minimum=1, maximum=3)
    assert band.half_width(_inputs(0, gross_delta=100)) == 3
    assert band.half_width(_inputs(0, gross_delta=40)) == 2
    assert band.half_width(_inputs(0, gross_delta=1)) == 1


def test_whalley_wilmott_band_is_wider_where_gamma_is_larger() -> None:
    """More gamma gives a wider Whalley–Wilmott band (H ∝ Γ^(2/3)), within its bounds."""
    band = WhalleyWilmottBand(risk_aversion=1e-4, cost=5e-4, minimum=0.01, maximum=100)
    low = band.half_width(_inputs(0, gamma=1e-5))
    high = band.half_width(_inputs(0, gamma=8e-5))
    assert math.isclose(high / low, 4.0, rel_tol=1e-9)
    expected = (1.5 * 5e-4 * 60_000 * 1e-5**2 / 1e-4) ** (1 / 3)
    assert math.isclose(low, expected)


def test_relative_risk_aversion_gives_the_same_band_share_for_any_book_size() -> None:
    """With A, γ = A / (G·S): a book ten times the size (gross delta and gamma ×10) gets a band
    ten times as wide, the same share of its options' delta; with a fixed γ per USD it would
    be only 10^(2/3) ≈ 4.6 times as wide."""
    relative = WhalleyWilmottBand(relative_risk_aversion=100, cost=6e-4, minimum=1e-9, maximum=1e9)
    small = relative.half_width(_inputs(0, gross_delta=2.0, gamma=2e-4))
    large = relative.half_width(_inputs(0, gross_delta=20.0, gamma=2e-3))
    assert math.isclose(large / small, 10.0, rel_tol=1e-9)
    gamma_per_usd = 100 / (2.0 * 60_000)
    absolute = WhalleyWilmottBand(risk_aversion=gamma_per_usd, cost=6e-4, minimum=1e-9, maximum=1e9)
    assert math.isclose(absolute.half_width(_inputs(0, gross_delta=2.0, gamma=2e-4)), small)
    grown = absolute.half_width(_inputs(0, gross_delta=20.0, gamma=2e-3))
    assert math.isclose(grown / small, 10 ** (2 / 3), rel_tol=1e-9)
    # (H / G)^3 = 3/2 · κ · (S·Γ / G)^2 / A
    share = (1.5 * 6e-4 * (60_000 * 2e-4 / 2.0) ** 2 / 100) ** (1 / 3)
    assert math.isclose(small / 2.0, share, rel_tol=1e-9)


def test_whalley_wilmott_band_without_options_is_its_minimum() -> None:
    band = WhalleyWilmottBand(relative_risk_aversion=100, cost=6e-4, minimum=0.05, maximum=10)
    assert band.half_width(_inputs(0, gross_delta=0.0, gamma=0.0)) == 0.05


def test_whalley_wilmott_band_takes_exactly_one_risk_aversion() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        WhalleyWilmottBand(
            relative_risk_aversion=100, risk_aversion=1e-4, cost=6e-4, minimum=0.01, maximum=1
        )
    with pytest.raises(ValueError, match="exactly one"):
        WhalleyWilmottBand(cost=6e-4, minimum=0.01, maximum=1)


def test_moves_to_band_edge_solve_delta_plus_gamma_times_move() -> None:
    """Δ−target = 0.1, Γ = 1e-4 coin/USD, H = 0.5: up 4,000 USD reaches +0.5, down 6,000 USD
    reaches −0.5; a short-gamma book reaches the edges the other way round."""
    assert moves_to_band_edge(0.1, 1e-4, 0.5) == pytest.approx((-6_000.0, 4_000.0))
    assert moves_to_band_edge(0.1, -1e-4, 0.5) == pytest.approx((-4_000.0, 6_000.0))
    for gamma in (1e-4, -1e-4):
        moves = moves_to_band_edge(0.1, gamma, 0.5)
        assert moves is not None
        assert sorted(0.1 + gamma * move for move in moves) == pytest.approx([-0.5, 0.5])
    assert moves_to_band_edge(0.1, 0.0, 0.5) is None
    assert moves_to_band_edge(0.7, 1e-4, 0.5) is None  # outside already
