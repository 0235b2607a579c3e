"""Every policy decision carries a `ReasonCode` that says why, so callers branch on the code and
never on the operator's sentence: each way to hold or hedge has its own code."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgebot.core.policy import Action, HedgeRule, PolicyInputs, RebalanceTo, decide
from hedgebot.model.trading import ReasonCode


class _Band:
    """A constant half-width of 0.1 coin (the policy's `BandRule` protocol)."""

    def half_width(self, inputs: PolicyInputs) -> float:
        return 0.1


RULE = HedgeRule(
    target=0.0,
    band=_Band(),
    rebalance_to=RebalanceTo.EDGE,
    min_order=0.01,
    max_order=5.0,
    max_position=10.0,
    cooldown_ms=2_000,
)
OUTSIDE = PolicyInputs(
    underlying="BTC",
    now_ms=100_000,
    net_delta=1.0,
    gross_delta=3.0,
    gamma=1e-5,
    price=60_000.0,
    hedge_position=0.0,
    lot=0.01,
    order_in_flight=False,
    last_hedge_ms=None,
)


@pytest.mark.parametrize(
    ("inputs", "rule", "code"),
    [
        (replace(OUTSIDE, net_delta=0.05), RULE, ReasonCode.INSIDE_BAND),
        (OUTSIDE, RULE, ReasonCode.OUTSIDE_BAND),
        (replace(OUTSIDE, order_in_flight=True), RULE, ReasonCode.IN_FLIGHT),
        (replace(OUTSIDE, last_hedge_ms=99_000), RULE, ReasonCode.COOLDOWN),
        (replace(OUTSIDE, hedge_position=-10.0), RULE, ReasonCode.MAX_POSITION),
        (replace(OUTSIDE, lot=5.0), RULE, ReasonCode.WOULD_OVERSHOOT),
    ],
    ids=["inside", "hedge", "in flight", "cooldown", "max position", "overshoot"],
)
def test_each_way_to_hold_or_hedge_has_its_code(
    inputs: PolicyInputs, rule: HedgeRule, code: ReasonCode
) -> None:
    decision = decide(rule, inputs)
    assert decision.code is code, decision.reason
    assert (decision.action is Action.HEDGE) == (code is ReasonCode.OUTSIDE_BAND)


@given(
    net_delta=st.floats(-20, 20),
    in_flight=st.booleans(),
    last_hedge_ms=st.none() | st.integers(90_000, 100_000),
)
def test_the_in_flight_code_is_given_exactly_when_an_order_in_flight_stops_a_hedge(
    net_delta: float, in_flight: bool, last_hedge_ms: int | None
) -> None:
    """Outside the band with an order in flight: IN_FLIGHT, whatever the sentence says;
    otherwise never."""
    inputs = replace(
        OUTSIDE, net_delta=net_delta, order_in_flight=in_flight, last_hedge_ms=last_hedge_ms
    )
    decision = decide(RULE, inputs)
    outside = abs(net_delta) > 0.1
    assert (decision.code is ReasonCode.IN_FLIGHT) == (outside and in_flight)
    assert (decision.code is ReasonCode.INSIDE_BAND) == (not outside)
