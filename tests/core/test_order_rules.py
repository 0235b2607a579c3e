"""Order rules checked before send: step, minimum amount and minimum order value, once for
every venue (hedgebot.core.order_rules)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgebot.core.order_rules import OrderRules, Rule, RuleBreach, venue_amount

BTCUSDT = OrderRules(
    symbol="BTCUSDT", step=0.001, min_amount=0.001, amount_scale=1.0, min_notional=100.0
)
OKX_LINEAR = OrderRules(symbol="BTC-USDT-SWAP", step=0.01, min_amount=0.01, amount_scale=0.01)


def test_an_order_below_the_minimum_value_names_the_rule_and_the_smallest_size() -> None:
    """0.0015 BTC at 60,000 is 60 USDT, below Binance's 100 USDT: refused with the size that
    would pass (0.00166667 BTC at this price)."""
    breach = venue_amount(BTCUSDT, 0.0015, 60_000.0)
    assert isinstance(breach, RuleBreach)
    assert breach.rule is Rule.BELOW_MIN_NOTIONAL
    assert "below the venue minimum of 100" in breach.reason
    assert "0.00166667" in breach.reason


def test_the_same_amount_passes_at_a_higher_price_and_is_truncated_to_the_step() -> None:
    """0.0015 is truncated to 0.001; at 120,000 that is 120 USDT, above the minimum."""
    assert venue_amount(BTCUSDT, 0.0015, 120_000.0) == pytest.approx(0.001)


def test_contracts_are_counted_in_contract_size() -> None:
    """OKX's BTC-USDT-SWAP contract is 0.01 BTC: 0.5 BTC is 50 contracts; 0.00005 BTC is refused."""
    assert venue_amount(OKX_LINEAR, 0.5, 60_000.0) == pytest.approx(50.0)
    breach = venue_amount(OKX_LINEAR, 0.00005, 60_000.0)
    assert isinstance(breach, RuleBreach)
    assert breach.rule is Rule.BELOW_MIN_AMOUNT


def test_without_a_price_the_value_rule_is_not_applied() -> None:
    assert venue_amount(BTCUSDT, 0.001, None) == pytest.approx(0.001)


@pytest.mark.parametrize("amount", [0.0, -1.0, float("nan"), float("inf")])
def test_non_positive_amounts_are_refused(amount: float) -> None:
    breach = venue_amount(BTCUSDT, amount, 60_000.0)
    assert isinstance(breach, RuleBreach)
    assert breach.rule is Rule.NOT_POSITIVE


def test_rules_refuse_a_zero_step() -> None:
    with pytest.raises(ValueError, match="step must be positive"):
        OrderRules(symbol="X", step=0.0, min_amount=1.0, amount_scale=1.0)


@given(
    st.floats(min_value=1e-4, max_value=1e4, allow_nan=False),
    st.floats(min_value=100.0, max_value=1e6, allow_nan=False),
)
def test_an_accepted_order_never_exceeds_the_request_and_meets_every_rule(
    amount: float, price: float
) -> None:
    result = venue_amount(BTCUSDT, amount, price)
    if isinstance(result, RuleBreach):
        assert amount < 0.002 or amount * price < 100.0 + price * 0.001
        return
    assert result <= amount * (1 + 1e-12)
    assert result >= 0.001
    assert result * price >= 100.0
    lots = result / 0.001
    assert abs(lots - round(lots)) < 1e-6
