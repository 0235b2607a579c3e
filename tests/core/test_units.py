"""Unit conversions: inverse and linear contracts turn into the right signed coin delta."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgebot.core.units import coin_to_amount, futures_delta, futures_gamma, lot_in_coin
from hedgebot.model.instruments import (
    Instrument,
    Kind,
    OptionType,
    Settlement,
    deribit_expiry_code,
    deribit_expiry_ms,
)
from tests.support.sample_instruments import PERP

LINEAR_PERP = Instrument(
    venue="binanceusdm",
    symbol="BTC/USDT:USDT",
    underlying="BTC",
    kind=Kind.PERPETUAL,
    contract_size=0.001,
    min_amount=0.001,
    tick_size=0.1,
)
prices = st.floats(min_value=100, max_value=1e6)
amounts = st.floats(min_value=-1e8, max_value=1e8, allow_nan=False)


@given(amounts, prices)
def test_inverse_delta_times_price_is_the_usd_face(amount: float, price: float) -> None:
    """Inverse USD face N at price F is N/F coin, signed like N."""
    delta = futures_delta(PERP, amount, price)
    assert math.isclose(delta * price, amount, rel_tol=1e-12, abs_tol=1e-9)
    assert delta == 0 or math.copysign(1, delta) == math.copysign(1, amount)


@given(amounts, prices)
def test_linear_delta_is_the_coin_amount(amount: float, price: float) -> None:
    """A linear contract's delta is its coin amount whatever the price."""
    assert futures_delta(LINEAR_PERP, amount, price) == amount
    assert futures_gamma(LINEAR_PERP, amount, price) == 0


@given(st.floats(min_value=-1e4, max_value=1e4, allow_nan=False), prices)
def test_coin_to_amount_round_trips(coin: float, price: float) -> None:
    """The amount whose delta is `coin` has delta `coin` again."""
    for instrument in (PERP, LINEAR_PERP):
        amount = coin_to_amount(instrument, coin, price)
        assert math.isclose(futures_delta(instrument, amount, price), coin, abs_tol=1e-9)


@given(amounts, prices)
def test_inverse_gamma_is_the_derivative_of_delta(amount: float, price: float) -> None:
    """dΔ/dF of an inverse position matches a central finite difference."""
    step = price * 1e-6
    numeric = (
        futures_delta(PERP, amount, price + step) - futures_delta(PERP, amount, price - step)
    ) / (2 * step)
    assert math.isclose(futures_gamma(PERP, amount, price), numeric, rel_tol=1e-5, abs_tol=1e-12)


def test_deribit_short_perp_of_1000_usd_at_50000_is_minus_0_02_btc() -> None:
    """The classic trap: a short of 1000 USD face is -0.02 BTC, not -1000 or -10000."""
    assert futures_delta(PERP, -1000.0, 50_000.0) == pytest.approx(-0.02)
    assert lot_in_coin(PERP, 50_000.0) == pytest.approx(0.0002)


@given(st.floats(min_value=-1e7, max_value=1e7, allow_nan=False))
def test_round_amount_truncates_to_whole_contracts(amount: float) -> None:
    """Deribit truncates 55 USD to 50: never rounds up beyond the request."""
    rounded = PERP.round_amount(amount)
    assert abs(rounded) <= abs(amount) + 1e-6
    assert abs(amount) - abs(rounded) < 10 + 1e-6
    assert math.isclose(rounded / 10, round(rounded / 10), abs_tol=1e-9)


def test_options_are_rejected_by_the_futures_path() -> None:
    """Options must go through the greeks, never the linear/inverse shortcut."""
    option = Instrument(
        venue="deribit",
        symbol="BTC-27MAR26-60000-C",
        underlying="BTC",
        kind=Kind.OPTION,
        settlement=Settlement.INVERSE,
        strike=60_000,
        option_type=OptionType.CALL,
        expiry_ms=deribit_expiry_ms("27MAR26"),
    )
    with pytest.raises(ValueError, match="options"):
        futures_delta(option, 1.0, 60_000)


@given(st.integers(min_value=0, max_value=4_000_000_000_000))
def test_expiry_code_round_trip(ms: int) -> None:
    """A Deribit expiry code parses to 08:00 UTC of its day and prints back the same."""
    code = deribit_expiry_code(ms)
    expiry = deribit_expiry_ms(code)
    assert deribit_expiry_code(expiry) == code
    assert (expiry // 1000) % 86400 == 8 * 3600
