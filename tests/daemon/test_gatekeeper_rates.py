"""A create the venue never placed (rate limited, or never found by client id) stops counting
towards the gatekeeper's notional budgets: the next real hedge is not refused for it. Venue
outcomes reach the gatekeeper as typed events: rejects in a row halt the underlying, an accepted
order ends the streak."""

from __future__ import annotations

from hedgebot.core.guards import GuardLimits
from hedgebot.core.policy import FixedBand, HedgeRule, RebalanceTo
from hedgebot.daemon.engine import OrderCheck
from hedgebot.daemon.executor import HedgeLeg
from hedgebot.daemon.gatekeeper import Gatekeeper
from hedgebot.model.events import (
    DaemonEvent,
    GuardHalted,
    OrderAccepted,
    OrderNotPlaced,
    OrderRejected,
)
from tests.support.sample_instruments import NOW, PERP, S


def _gatekeeper(events: list[DaemonEvent] | None = None) -> Gatekeeper:
    told: list[DaemonEvent] = [] if events is None else events
    return Gatekeeper(
        limits=GuardLimits(
            max_data_age_s=5.0,
            max_notional_per_minute_usd=100_000.0,
            max_notional_per_hour_usd=1_000_000.0,
            max_orders_per_minute=6,
            max_consecutive_rejects=3,
            max_hedge_position={"BTC": 10.0},
            max_abs_net_delta_usd=10_000_000.0,
            max_maintenance_ratio=0.9,
        ),
        reducing_ratio=0.8,
        notify=told.append,
    )


def _check(now_ms: int, coins: float) -> OrderCheck:
    leg = HedgeLeg(
        underlying="BTC",
        account="main",
        instrument=PERP,
        rule=HedgeRule(
            target=0.0,
            band=FixedBand(0.1),
            rebalance_to=RebalanceTo.EDGE,
            min_order=0.01,
            max_order=5.0,
            max_position=10.0,
            cooldown_ms=0,
        ),
        slippage_bps=10.0,
        order_timeout_ms=10_000,
    )
    return OrderCheck(
        leg=leg,
        now_ms=now_ms,
        order_delta=-coins,
        price=S,
        hedge_position=0.0,
        net_delta=coins + 0.5,
        market_age_s=0.1,
        account_age_s=0.1,
    )


def test_a_rate_limited_create_does_not_use_up_the_notional_per_minute() -> None:
    gatekeeper = _gatekeeper()
    first = _check(NOW, 1.5)  # $90,000 of the $100,000 a minute
    assert gatekeeper.veto(first) is None
    gatekeeper.sent(first)
    second = _check(NOW + 5_000, 0.5)
    refusal = gatekeeper.veto(second)
    assert refusal is not None
    assert "notional" in refusal
    gatekeeper.unsent(first)  # the venue said: rate limited, not placed
    assert gatekeeper.veto(second) is None
    gatekeeper.unsent(first)  # a second report changes nothing
    assert gatekeeper.veto(second) is None


def _rejected(underlying: str = "BTC") -> OrderRejected:
    return OrderRejected(underlying=underlying, client_id="hbtestn1", reason="post-only cross")


def test_venue_rejects_told_as_events_halt_the_underlying_and_an_accept_ends_the_streak() -> None:
    """The limit is 3 rejects in a row. Two rejects, an accept, two rejects: still trading. A
    third reject in a row halts BTC (once, told as `GuardHalted`) until an operator resumes."""
    told: list[DaemonEvent] = []
    gatekeeper = _gatekeeper(told)
    check = _check(NOW, 0.5)
    for event in (_rejected(), _rejected(), OrderAccepted(underlying="BTC")):
        gatekeeper.on_event(event)
    gatekeeper.on_event(_rejected())
    gatekeeper.on_event(_rejected())
    gatekeeper.on_event(_rejected("ETH"))  # another underlying's streak
    gatekeeper.on_event(
        OrderNotPlaced(underlying="BTC", client_id="hbtestn2", reason="rate limited")
    )  # never placed: neither a reject nor an accept
    assert gatekeeper.veto(check) is None
    gatekeeper.on_event(_rejected())
    refusal = gatekeeper.veto(check)
    assert refusal is not None
    assert "3 consecutive rejects" in refusal
    assert [type(e) for e in told] == [GuardHalted]
    assert gatekeeper.guard_state.halted.keys() == {"BTC"}
    gatekeeper.resume()
    assert gatekeeper.veto(_check(NOW + 1_000, 0.5)) is None
