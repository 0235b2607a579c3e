"""Tests of the trading guards: limits, halts and the kill switch."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgebot.core.guards import (
    HOUR_MS,
    MINUTE_MS,
    GuardLimits,
    GuardState,
    GuardVerdict,
    check_kill_switch,
    check_order,
    engage_kill_switch,
    forget_notional,
    halt_underlying,
    prune_sends,
    record_accept,
    record_reject,
    record_send,
    resume,
)
from hedgebot.model.trading import TradingState

LIMITS = GuardLimits(
    max_data_age_s=5.0,
    max_notional_per_minute_usd=100_000.0,
    max_notional_per_hour_usd=1_000_000.0,
    max_orders_per_minute=6,
    max_consecutive_rejects=3,
    max_hedge_position={"BTC": 10.0, "ETH": 100.0},
    max_abs_net_delta_usd=2_000_000.0,
    max_maintenance_ratio=0.8,
)
NOW = 1_700_000_000_000


def check(
    state: GuardState = GuardState(),  # noqa: B008 -- frozen value, safe as a default
    *,
    limits: GuardLimits = LIMITS,
    now_ms: int = NOW,
    underlying: str = "BTC",
    notional_usd: float = 10_000.0,
    current: float = 0.0,
    resulting: float = 1.0,
    reduces_exposure: bool = False,
    market_age_s: float = 0.5,
    account_age_s: float = 1.0,
    trading_state: TradingState = TradingState.ACTIVE,
) -> GuardVerdict:
    """check_order with an ordinary, acceptable order unless told otherwise."""
    return check_order(
        limits,
        state,
        now_ms=now_ms,
        underlying=underlying,
        notional_usd=notional_usd,
        current_hedge_position=current,
        resulting_hedge_position=resulting,
        reduces_exposure=reduces_exposure,
        market_age_s=market_age_s,
        account_age_s=account_age_s,
        trading_state=trading_state,
    )


# --- examples -------------------------------------------------------------------------------


def test_ordinary_order_is_allowed() -> None:
    """A fresh, small order within every limit may be sent."""
    verdict = check()
    assert verdict.allowed
    assert not verdict.halt_underlying
    assert not verdict.engage_kill_switch
    assert "10,000.00 USD" in verdict.reason


def test_stale_market_data_refuses_with_the_numbers() -> None:
    """An order on stale market data is refused with a sentence naming the age and the limit."""
    verdict = check(market_age_s=12.25)
    assert not verdict.allowed
    assert "market data is 12.2 s old" in verdict.reason
    assert "5.0 s limit" in verdict.reason
    assert check(account_age_s=6.0).reason.startswith("BTC: account data is 6.0 s old")


def test_per_minute_notional_slides() -> None:
    """Notional refused now is allowed once the earlier sends leave the one-minute window."""
    state = record_send(GuardState(), now_ms=NOW, notional_usd=95_000.0)
    refused = check(state, now_ms=NOW + 30_000)
    assert not refused.allowed
    assert "105,000.00 USD" in refused.reason
    assert "100,000.00 USD limit" in refused.reason
    assert not refused.engage_kill_switch
    assert check(state, now_ms=NOW + MINUTE_MS).allowed


def test_orders_per_minute() -> None:
    """The seventh order within a minute is refused, whatever its size."""
    state = GuardState()
    for i in range(LIMITS.max_orders_per_minute):
        state = record_send(state, now_ms=NOW + i, notional_usd=1.0)
    verdict = check(state, now_ms=NOW + 10, notional_usd=1.0)
    assert not verdict.allowed
    assert "6 orders were sent in the last minute" in verdict.reason


def test_hourly_budget_asks_for_the_kill_switch() -> None:
    """Exceeding the hourly notional budget refuses and asks to stop everything."""
    state = GuardState()
    for minute in range(10):
        state = record_send(state, now_ms=NOW + minute * MINUTE_MS, notional_usd=99_000.0)
    verdict = check(state, now_ms=NOW + 10 * MINUTE_MS, notional_usd=20_000.0)
    assert not verdict.allowed
    assert verdict.engage_kill_switch
    assert "1,010,000.00 USD" in verdict.reason


def test_prune_forgets_sends_older_than_an_hour() -> None:
    """Sends older than an hour are dropped from the state."""
    state = record_send(GuardState(), now_ms=NOW, notional_usd=5.0)
    state = record_send(state, now_ms=NOW + HOUR_MS - 1, notional_usd=7.0)
    assert len(prune_sends(state, now_ms=NOW + HOUR_MS - 1).recent_sends) == 2
    assert prune_sends(state, now_ms=NOW + HOUR_MS).recent_sends == ((NOW + HOUR_MS - 1, 7.0),)


def test_position_limit() -> None:
    """A hedge position beyond the limit is refused unless the order moves it towards zero."""
    beyond = check(current=9.0, resulting=10.5)
    assert not beyond.allowed
    assert "+10.5 coin" in beyond.reason
    assert "±10 coin limit" in beyond.reason
    assert check(current=-12.0, resulting=-11.0).allowed
    assert not check(current=12.0, resulting=-11.0).allowed
    assert check(current=9.0, resulting=-10.0).allowed


def test_unlisted_underlying_never_trades() -> None:
    """An underlying without a configured position limit is refused."""
    verdict = check(underlying="SOL")
    assert not verdict.allowed
    assert "no hedge position limit" in verdict.reason


def test_halted_trading_state_refuses_even_reducing_orders() -> None:
    """HALTED refuses every order, including ones that reduce exposure."""
    verdict = check(trading_state=TradingState.HALTED, reduces_exposure=True)
    assert not verdict.allowed
    assert "HALTED" in verdict.reason


def test_halt_is_per_underlying_and_resumable() -> None:
    """A halted underlying refuses orders, others trade on, and an operator lifts it."""
    state = halt_underlying(GuardState(), "BTC", "order hb-7 LOST")
    state = halt_underlying(state, "BTC", "a later reason")
    refused = check(state)
    assert not refused.allowed
    assert "order hb-7 LOST" in refused.reason
    assert check(state, underlying="ETH").allowed
    assert check(resume(state, underlying="BTC")).allowed


def test_non_finite_inputs_refuse() -> None:
    """NaN or infinite numbers in an order are refused rather than compared."""
    assert not check(notional_usd=math.nan).allowed
    assert not check(resulting=math.inf).allowed
    assert not check(market_age_s=math.nan).allowed
    assert not check(notional_usd=-1.0).allowed


def test_kill_switch_on_margin_and_delta() -> None:
    """The kill switch engages on a near-liquidation account or a huge net delta, naming them."""
    calm = check_kill_switch(
        LIMITS,
        GuardState(),
        net_delta_usd_by_underlying={"BTC": -150_000.0},
        maintenance_ratio_by_account={"main": 0.3},
    )
    assert not calm.kill_switch_engaged

    margin = check_kill_switch(
        LIMITS,
        GuardState(),
        net_delta_usd_by_underlying={"BTC": 0.0},
        maintenance_ratio_by_account={"main": 0.3, "sub": 0.91},
    )
    assert margin.kill_switch_reason == "maintenance ratio of sub is 0.91, beyond the 0.80 limit"

    delta = check_kill_switch(
        LIMITS,
        GuardState(),
        net_delta_usd_by_underlying={"ETH": -2_500_000.0},
        maintenance_ratio_by_account={"main": math.inf},
    )
    assert delta.kill_switch_reason is not None
    assert "net delta of ETH is -2,500,000.00 USD, beyond the 2,000,000.00 USD" in (
        delta.kill_switch_reason
    )
    assert "maintenance ratio of main is inf" in delta.kill_switch_reason

    nan = check_kill_switch(
        LIMITS,
        GuardState(),
        net_delta_usd_by_underlying={"BTC": math.nan},
        maintenance_ratio_by_account={},
    )
    assert nan.kill_switch_engaged


def test_kill_switch_keeps_its_first_reason() -> None:
    """A second breach does not overwrite why the kill switch first engaged."""
    state = engage_kill_switch(GuardState(), "first")
    state = check_kill_switch(
        LIMITS,
        state,
        net_delta_usd_by_underlying={"BTC": 9e9},
        maintenance_ratio_by_account={},
    )
    assert state.kill_switch_reason == "first"
    assert "kill switch engaged (first)" in check(state).reason


def test_limits_are_validated() -> None:
    """Nonsensical limits are refused when the configuration is built."""
    with pytest.raises(ValueError, match="max_data_age_s"):
        replace(LIMITS, max_data_age_s=0.0)
    with pytest.raises(ValueError, match=r"max_hedge_position\[BTC\]"):
        replace(LIMITS, max_hedge_position={"BTC": math.nan})
    with pytest.raises(ValueError, match="per-minute"):
        replace(LIMITS, max_notional_per_hour_usd=10.0)
    with pytest.raises(ValueError, match="liquidation"):
        replace(LIMITS, max_maintenance_ratio=1.5)


# --- properties -----------------------------------------------------------------------------

SMALL_LIMITS = replace(
    LIMITS,
    max_notional_per_minute_usd=50_000.0,
    max_notional_per_hour_usd=300_000.0,
    max_orders_per_minute=4,
)


@settings(max_examples=200, deadline=None)
@given(
    attempts=st.lists(
        st.tuples(st.integers(0, 90_000), st.floats(0.0, 40_000.0)), min_size=1, max_size=80
    )
)
def test_accepted_sends_never_exceed_the_rate_limits(attempts: list[tuple[int, float]]) -> None:
    """Whatever orders are attempted, the accepted ones respect every rate limit in every window."""
    state, now, accepted = GuardState(), NOW, []
    for gap_ms, notional in attempts:
        now += gap_ms
        verdict = check(state, limits=SMALL_LIMITS, now_ms=now, notional_usd=notional)
        if verdict.engage_kill_switch:
            state = engage_kill_switch(state, verdict.reason)
        if verdict.allowed:
            state = record_send(state, now_ms=now, notional_usd=notional)
            accepted.append((now, notional))
    for end, _ in accepted:
        minute = [n for t, n in accepted if end - MINUTE_MS < t <= end]
        hour = [n for t, n in accepted if end - HOUR_MS < t <= end]
        assert math.fsum(minute) <= SMALL_LIMITS.max_notional_per_minute_usd * (1 + 1e-12)
        assert math.fsum(hour) <= SMALL_LIMITS.max_notional_per_hour_usd * (1 + 1e-12)
        assert len(minute) <= SMALL_LIMITS.max_orders_per_minute
    assert accepted, "the first attempt is always within the limits"


@given(
    data_limit=st.floats(0.1, 60.0),
    market_age=st.floats(0.0, 1e6) | st.just(math.nan),
    account_age=st.floats(0.0, 1e6) | st.just(math.nan),
    reduces=st.booleans(),
    trading_state=st.sampled_from(list(TradingState)),
    notional=st.floats(0.0, 1e6),
)
def test_stale_data_always_blocks(
    *,
    data_limit: float,
    market_age: float,
    account_age: float,
    reduces: bool,
    trading_state: TradingState,
    notional: float,
) -> None:
    """No order of any kind passes while market or account data is older than the limit."""
    limits = replace(LIMITS, max_data_age_s=data_limit)
    verdict = check(
        limits=limits,
        market_age_s=market_age,
        account_age_s=account_age,
        reduces_exposure=reduces,
        trading_state=trading_state,
        notional_usd=notional,
    )
    stale = not (market_age <= data_limit and account_age <= data_limit)
    if stale:
        assert not verdict.allowed
    fresh_and_plain = not stale and trading_state is TradingState.ACTIVE and notional <= 1e5
    if fresh_and_plain:
        assert verdict.allowed


STATE_UPDATES: list[tuple[str, Callable[[GuardState], GuardState]]] = [
    ("send", lambda s: record_send(s, now_ms=NOW, notional_usd=1.0)),
    ("reject", lambda s: record_reject(s, "BTC")),
    ("accept", lambda s: record_accept(s, "BTC")),
    ("halt", lambda s: halt_underlying(s, "ETH", "test")),
    ("resume-one", lambda s: resume(s, underlying="BTC")),
    ("prune", lambda s: prune_sends(s, now_ms=NOW + 2 * HOUR_MS)),
    ("engage-again", lambda s: engage_kill_switch(s, "again")),
    (
        "calm-risk",
        lambda s: check_kill_switch(
            LIMITS, s, net_delta_usd_by_underlying={"BTC": 0.0}, maintenance_ratio_by_account={}
        ),
    ),
]


@given(updates=st.lists(st.sampled_from(STATE_UPDATES), max_size=30))
def test_kill_switch_stays_engaged_until_resume(
    updates: list[tuple[str, Callable[[GuardState], GuardState]]],
) -> None:
    """Once engaged, nothing but a full operator resume lifts the kill switch."""
    state = engage_kill_switch(GuardState(), "margin")
    for _, update in updates:
        state = update(state)
        assert state.kill_switch_engaged
        assert not check(state, reduces_exposure=True).allowed
    resumed = resume(state)
    assert not resumed.kill_switch_engaged
    # Two hours on, the send-rate windows are empty: only the kill switch could still refuse.
    assert check(resumed, underlying="ETH", now_ms=NOW + 2 * HOUR_MS).allowed


@given(
    reduces=st.booleans(),
    notional=st.floats(0.0, 50_000.0),
    resulting=st.floats(-10.0, 10.0),
)
def test_reducing_allows_only_reducing_orders(
    reduces: bool, notional: float, resulting: float
) -> None:
    """In REDUCING, an otherwise acceptable order passes exactly when it reduces exposure."""
    verdict = check(
        trading_state=TradingState.REDUCING,
        reduces_exposure=reduces,
        notional_usd=notional,
        resulting=resulting,
    )
    assert verdict.allowed == reduces
    if not reduces:
        assert "REDUCING" in verdict.reason


@given(outcomes=st.lists(st.booleans(), max_size=40))
def test_consecutive_rejects_halt_and_an_accept_resets(outcomes: list[bool]) -> None:
    """Rejects in a row reaching the limit halt the underlying; an accept restarts the count."""
    state, streak = GuardState(), 0
    for rejected in outcomes:
        verdict = check(state)
        assert verdict.allowed == (streak < LIMITS.max_consecutive_rejects)
        assert verdict.halt_underlying == (streak >= LIMITS.max_consecutive_rejects)
        if verdict.halt_underlying:
            assert f"{streak} consecutive rejects" in verdict.reason
            assert check(state, underlying="ETH").allowed
            return
        state = record_reject(state, "BTC") if rejected else record_accept(state, "BTC")
        streak = streak + 1 if rejected else 0


def test_a_create_refused_unplaced_gives_back_its_notional_but_not_its_send() -> None:
    """A rate-limited create never reached the book: its notional stops counting towards the
    minute and hour budgets, the send still counts towards the order rate."""
    state = record_send(GuardState(), now_ms=NOW, notional_usd=300_000.0)
    state = record_send(state, now_ms=NOW + 5, notional_usd=180_000.0)
    state = forget_notional(state, sent_ms=NOW, notional_usd=300_000.0)
    assert state.sent_within(now_ms=NOW + 10, window_ms=MINUTE_MS) == (2, 180_000.0)
    assert forget_notional(state, sent_ms=NOW + 1, notional_usd=1.0) is state


@settings(max_examples=200, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(-1_000, 900_000), st.floats(0.0, 1e7, allow_nan=False)),
        max_size=40,
    ),
    window_ms=st.sampled_from([MINUTE_MS, HOUR_MS, 1]),
)
def test_window_sums_agree_with_a_scan_of_the_sends(
    steps: list[tuple[int, float]], window_ms: int
) -> None:
    """The running sums give the count and notional a plain scan of the sends gives, for sends
    in time order and out of it (a clock step back), after every send and prune."""
    state, now = GuardState(), NOW
    for step, notional in steps:
        now += step
        state = record_send(state, now_ms=now, notional_usd=notional)
        scanned = [n for ts, n in state.recent_sends if now - ts < window_ms]
        count, total = state.sent_within(now_ms=now, window_ms=window_ms)
        assert count == len(scanned)
        assert total == pytest.approx(math.fsum(scanned), rel=1e-9, abs=1e-6)
