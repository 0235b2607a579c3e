"""Lot and price rounding, the one rule (`hedgebot.model.rounding`) every amount and price uses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hedgebot.core.order_rules import OrderRules, venue_amount
from hedgebot.model import rounding
from hedgebot.model.instruments import Instrument, Kind


def _instrument(tick: float, lot: float) -> Instrument:
    return Instrument(
        venue="deribit",
        symbol="BTC-PERPETUAL",
        underlying="BTC",
        kind=Kind.PERPETUAL,
        contract_size=lot,
        tick_size=tick,
    )


def test_a_price_on_the_tick_stays_on_it_although_its_float_quotient_is_below() -> None:
    """0.3 / 0.1 is 2.9999999999999996 in floats: truncating it moved a price already on the tick
    one tick down (the rule before this one did)."""
    instrument = _instrument(tick=0.1, lot=0.1)
    assert instrument.round_price(0.3, up=False) == 0.3
    assert instrument.round_price(0.3, up=True) == 0.3
    assert instrument.round_price(0.34, up=False) == 0.3
    assert instrument.round_price(0.31, up=True) == 0.4


def test_an_amount_left_by_float_subtraction_keeps_its_last_lot() -> None:
    """5.0 - 4.7 = 0.2999999999999998: three lots of 0.1, on the instrument and at the venue."""
    instrument = _instrument(tick=0.5, lot=0.1)
    assert instrument.round_amount(5.0 - 4.7) == 0.3
    assert instrument.round_amount(-(5.0 - 4.7)) == -0.3
    rules = OrderRules(symbol="BTC/USDT:USDT", step=0.001, min_amount=0.001, amount_scale=1.0)
    assert venue_amount(rules, 0.3 - 0.1, price=None) == 0.2


@given(
    lots=st.integers(min_value=0, max_value=10**6),
    step=st.sampled_from([0.1, 0.01, 0.001, 0.5, 2.5, 10.0, 0.0001]),
    frac=st.floats(min_value=0.0, max_value=0.999),
)
def test_rounding_down_never_exceeds_the_value_and_lands_on_the_grid(
    lots: int, step: float, frac: float
) -> None:
    value = (lots + frac) * step
    down = rounding.to_step(value, step)
    up = rounding.to_step(value, step, up=True)
    assert rounding.is_multiple(down, step)
    assert rounding.is_multiple(up, step)
    assert down <= value + step * 1e-9
    assert up >= value - step * 1e-9
    assert up - down <= step * (1 + 1e-9)


def test_a_large_amount_a_fraction_of_a_lot_short_is_never_rounded_up() -> None:
    """Deribit BTC-PERPETUAL trades in 10 USD lots: 58,551,509.97 USD is 5,855,150 lots, not
    5,855,151 (a snap relative to the count rounded it up, past what was asked)."""
    assert rounding.to_step(58551509.96875, 10.0) == 58551500.0
    assert not rounding.is_multiple(58551509.96875, 10.0)
