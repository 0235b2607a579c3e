"""The simulated venue's instrument catalog parses Deribit-style symbols into the right units."""

from __future__ import annotations

import datetime as dt

import pytest

from hedgebot.model.instruments import Kind, OptionType, Settlement
from hedgebot.venues.sim import (
    BTC,
    MarketSettings,
    UnderlyingSettings,
    settlement_currency,
    sim_instrument,
)


def test_inverse_perpetual_counts_usd_in_contracts_of_ten() -> None:
    """BTC-PERPETUAL is an inverse perpetual in USD face with 10 USD contracts and a 0.5 tick."""
    perp = sim_instrument("sim", "BTC-PERPETUAL")
    assert (perp.kind, perp.settlement, perp.amount_is_usd) == (
        Kind.PERPETUAL,
        Settlement.INVERSE,
        True,
    )
    assert (perp.contract_size, perp.min_amount, perp.tick_size) == (10.0, 10.0, 0.5)
    eth = sim_instrument("sim", "ETH-PERPETUAL")
    assert (eth.contract_size, eth.min_amount, eth.tick_size) == (1.0, 1.0, 0.05)
    assert perp.key.venue == "sim"
    assert perp.expiry_ms is None


def test_dated_future_expires_at_eight_utc() -> None:
    """A dated future expires at 08:00 UTC on its date and keeps the perpetual's units."""
    future = sim_instrument("venue-x", "BTC-27MAR26")
    expiry = dt.datetime.fromtimestamp((future.expiry_ms or 0) / 1000, tz=dt.UTC)
    assert expiry == dt.datetime(2026, 3, 27, 8, tzinfo=dt.UTC)
    assert (future.kind, future.contract_size, future.venue) == (Kind.FUTURE, 10.0, "venue-x")


def test_option_is_coin_settled_with_coin_amounts() -> None:
    """Options are coin-settled, in lots of 0.1 BTC (1 ETH), with a 0.0005 coin tick."""
    call = sim_instrument("sim", "BTC-27MAR26-100000-C")
    put = sim_instrument("sim", "ETH-27MAR26-2500-P")
    assert (call.kind, call.option_type, call.strike) == (Kind.OPTION, OptionType.CALL, 100000.0)
    assert call.is_inverse
    assert not call.amount_is_usd
    assert (call.contract_size, call.min_amount, call.tick_size) == (0.1, 0.1, 0.0005)
    assert (put.option_type, put.contract_size, put.strike) == (OptionType.PUT, 1.0, 2500.0)
    assert settlement_currency(call) == "BTC"


def test_linear_perpetual_and_spot_are_in_coin_settled_in_usdc() -> None:
    """BTC_USDC-PERPETUAL and BTC_USDC are linear, amounts in coin, settled in USDC."""
    perp = sim_instrument("sim", "BTC_USDC-PERPETUAL")
    spot = sim_instrument("sim", "ETH_USDC")
    assert (perp.kind, perp.settlement, perp.contract_size) == (
        Kind.PERPETUAL,
        Settlement.LINEAR,
        0.001,
    )
    assert sim_instrument("sim", "ETH_USDC-PERPETUAL").contract_size == 0.01
    assert (spot.kind, spot.settlement) == (Kind.SPOT, Settlement.LINEAR)
    assert settlement_currency(perp) == settlement_currency(spot) == "USDC"


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ("DOGE-PERPETUAL", "unknown underlying 'DOGE'"),
        ("BTC-PERP", "unknown symbol"),
        ("BTC-27XYZ26", "bad expiry"),
        ("BTC-31FEB26", "bad expiry"),
        ("BTC-27MAR26-100000-X", "unknown symbol"),
        ("btc-perpetual", "unknown symbol"),
    ],
)
def test_unknown_symbols_are_refused_with_a_clear_message(symbol: str, message: str) -> None:
    """Symbols the catalog cannot parse raise ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        sim_instrument("sim", symbol)


def test_configured_underlyings_define_the_catalog() -> None:
    """An underlying added to the market settings becomes tradable with its own contract sizes."""
    doge = UnderlyingSettings(
        name="DOGE", spot=0.1, vol=1.0, inverse_contract_usd=1.0, inverse_tick=0.0001
    )
    settings = MarketSettings(underlyings=(BTC, doge))
    perp = sim_instrument("sim", "DOGE-PERPETUAL", underlyings=settings.underlyings)
    assert (perp.contract_size, perp.tick_size) == (1.0, 0.0001)
    with pytest.raises(ValueError, match="ETH"):
        sim_instrument("sim", "ETH-PERPETUAL", underlyings=settings.underlyings)
