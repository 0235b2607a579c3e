"""Recorded instrument payloads, loaded by real ccxt, become hedgebot instruments and units."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from hedgebot.model.errors import BadVenueData, OrderRejected
from hedgebot.model.instruments import Kind, OptionType, Settlement
from hedgebot.venues.ccxt.markets import MarketCatalog, venue_market_from_ccxt
from tests.support.ccxt_recorded import catalog_of, load_json, loaded_exchange


def _raw(instruments: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(i for i in instruments if i["instrument_name"] == name)


def test_deribit_perpetual_counts_usd_in_lots_of_ten() -> None:
    """BTC-PERPETUAL is inverse and counts USD in multiples of min_trade_amount."""
    raw = _raw(load_json("deribit/instruments.json")["result"], "BTC-PERPETUAL")
    perp = catalog_of("deribit").get("BTC-PERPETUAL").instrument
    assert perp.kind is Kind.PERPETUAL
    assert perp.settlement is Settlement.INVERSE
    assert perp.amount_is_usd
    assert perp.contract_size == raw["min_trade_amount"] == 10
    assert perp.min_amount == raw["min_trade_amount"]
    assert perp.tick_size == raw["tick_size"]
    assert perp.expiry_ms is None  # ccxt gives it the year 3000
    assert perp.underlying == raw["base_currency"]


def test_deribit_future_and_option_carry_expiry_strike_and_type() -> None:
    """Dated futures and options keep the venue's expiry timestamp, strike and call/put."""
    instruments = load_json("deribit/instruments.json")["result"]
    catalog = catalog_of("deribit")
    future = catalog.get("BTC-27DEC24").instrument
    option = catalog.get("BTC-27DEC24-100000-C").instrument
    raw_option = _raw(instruments, "BTC-27DEC24-100000-C")
    assert future.kind is Kind.FUTURE
    raw_future = _raw(instruments, "BTC-27DEC24")
    assert future.expiry_ms == raw_future["expiration_timestamp"]
    assert option.kind is Kind.OPTION
    assert option.settlement is Settlement.INVERSE
    assert not option.amount_is_usd
    assert option.contract_size == raw_option["min_trade_amount"]
    assert option.strike == raw_option["strike"]
    assert option.option_type is OptionType.CALL
    assert option.expiry_ms == raw_option["expiration_timestamp"]


def test_deribit_combos_are_not_offered() -> None:
    """Combo instruments are not hedging instruments and never appear in the catalog."""
    symbols = {i.symbol for i in catalog_of("deribit").instruments}
    assert "BTC-COMBO-1" not in symbols
    assert {"BTC-PERPETUAL", "BTC-27DEC24", "BTC-27DEC24-100000-C"} <= symbols


def test_binance_usdm_amounts_are_coin_in_lot_size_steps() -> None:
    """Binance USDⓈ-M contracts are linear with coin amounts stepped by LOT_SIZE."""
    raw = load_json("binance_usdm/exchange_info_usdm.json")["symbols"][0]
    lot = next(f for f in raw["filters"] if f["filterType"] == "LOT_SIZE")
    catalog = catalog_of("binanceusdm")
    perp = catalog.get("BTCUSDT").instrument
    quarterly = catalog.get("BTCUSDT_260925").instrument
    assert (perp.kind, perp.settlement) == (Kind.PERPETUAL, Settlement.LINEAR)
    assert perp.contract_size == float(lot["stepSize"])
    assert perp.min_amount == float(lot["minQty"])
    assert quarterly.kind is Kind.FUTURE
    assert (
        quarterly.expiry_ms
        == load_json("binance_usdm/exchange_info_usdm.json")["symbols"][1]["deliveryDate"]
    )


def test_binance_coinm_amounts_are_usd_face() -> None:
    """A COIN-M contract is 100 USD of face: one lot in hedgebot units is 100 USD."""
    raw = load_json("binance_coinm/exchange_info_delivery_coinm.json")["symbols"][0]
    market = catalog_of("binancecoinm").get("BTCUSD_260925")
    assert market.instrument.settlement is Settlement.INVERSE
    assert market.instrument.amount_is_usd
    assert market.amount_scale == raw["contractSize"]
    assert market.instrument.contract_size == raw["contractSize"] * 1  # one contract per step
    assert market.from_venue_amount(3) == 3 * raw["contractSize"]


def test_bybit_inverse_and_linear_perpetuals() -> None:
    """Bybit BTCUSD counts USD (inverse), BTCUSDT counts coin (linear)."""
    catalog = catalog_of("bybit")
    inverse = catalog.get("BTCUSD").instrument
    linear = catalog.get("BTCUSDT").instrument
    assert (inverse.settlement, inverse.contract_size) == (Settlement.INVERSE, 1.0)
    assert (linear.settlement, linear.contract_size) == (Settlement.LINEAR, 0.001)


def test_okx_contract_values_become_amount_units() -> None:
    """OKX contracts are scaled by ctVal: 100 USD per inverse contract, 0.01 BTC per linear one."""
    raw = {r["instId"]: r for r in load_json("okx/instruments_swap.json")["data"]}
    catalog = catalog_of("okx")
    inverse = catalog.get("BTC-USD-SWAP")
    linear = catalog.get("BTC-USDT-SWAP")
    assert inverse.instrument.settlement is Settlement.INVERSE
    assert inverse.amount_scale == float(raw["BTC-USD-SWAP"]["ctVal"])
    assert inverse.instrument.contract_size == float(raw["BTC-USD-SWAP"]["lotSz"]) * float(
        raw["BTC-USD-SWAP"]["ctVal"]
    )
    assert linear.instrument.settlement is Settlement.LINEAR
    assert linear.instrument.contract_size == pytest.approx(
        float(raw["BTC-USDT-SWAP"]["lotSz"]) * float(raw["BTC-USDT-SWAP"]["ctVal"])
    )


def test_unknown_symbol_is_reported_as_bad_data() -> None:
    """Asking for an instrument the venue does not list fails with BadVenueData, not KeyError."""
    with pytest.raises(BadVenueData, match="NOPE"):
        catalog_of("deribit").get("NOPE")


def test_contradictory_settlement_flags_are_skipped_and_logged() -> None:
    """A market that settles in its base coin but claims to be linear is dropped with a log line."""
    exchange = loaded_exchange("deribit")
    broken = {**exchange.markets["BTC/USD:BTC"], "linear": True, "inverse": False}
    with pytest.raises(BadVenueData, match="linear=True"):
        venue_market_from_ccxt(broken, venue="deribit", exchange_id="deribit")
    with capture_logs() as logs:
        catalog = MarketCatalog.from_ccxt({"BTC/USD:BTC": broken}, venue="d", exchange_id="deribit")
    assert len(catalog) == 0
    assert [e["event"] for e in logs] == ["markets.skipped"]


def test_below_minimum_order_is_rejected_before_sending() -> None:
    """An order smaller than one Deribit lot (10 USD) is refused locally."""
    perp = catalog_of("deribit").get("BTC-PERPETUAL")
    with pytest.raises(OrderRejected, match="below the venue minimum"):
        perp.venue_order_amount(9.99)


def test_deribit_55_usd_becomes_50() -> None:
    """Deribit truncates USD amounts to its lot: 55 USD is sent as 50, like ccxt would."""
    exchange = loaded_exchange("deribit")
    perp = catalog_of("deribit").get("BTC-PERPETUAL")
    assert perp.venue_order_amount(55) == float(exchange.amount_to_precision("BTC/USD:BTC", 55))
    assert perp.venue_order_amount(55) == 50


@given(st.floats(min_value=10, max_value=1e8, allow_nan=False))
@example(99999999.99999999)
@example(58551509.97)
def test_deribit_usd_amounts_truncate_to_multiples_of_ten(amount: float) -> None:
    """Any USD amount is sent as the largest multiple of 10 not above it, matching ccxt; except
    that a request within one billionth of a lot below a multiple (float noise, such as
    99999999.99999999) is that multiple, where ccxt's truncation would drop a whole lot."""
    perp = catalog_of("deribit").get("BTC-PERPETUAL")
    sent = perp.venue_order_amount(amount)
    assert sent % 10 == 0
    # measured on the decimal values the request and the order stand for (their shortest
    # reprs): float subtraction near 1e8 is itself off by up to 1.5e-8
    excess = Decimal(repr(sent)) - Decimal(repr(amount))
    assert excess <= Decimal("1e-8")
    assert -excess < 10
    by_ccxt = float(loaded_exchange("deribit").amount_to_precision("BTC/USD:BTC", amount))
    assert sent == by_ccxt or (sent - by_ccxt == 10 and excess <= Decimal("1e-8"))


@given(
    st.sampled_from(
        [
            ("okx", "BTC-USDT-SWAP"),
            ("okx", "BTC-USD-SWAP"),
            ("binancecoinm", "BTCUSD_260925"),
            ("binanceusdm", "BTCUSDT"),
            ("bybit", "BTCUSD"),
            ("deribit", "BTC-27DEC24-100000-C"),
        ]
    ),
    st.floats(min_value=1e-4, max_value=1e7, allow_nan=False),
)
def test_order_amount_round_trip_never_exceeds_request(
    venue_and_symbol: tuple[str, str], amount: float
) -> None:
    """Converting an order to venue contracts and back never sends more than was asked."""
    exchange_id, symbol = venue_and_symbol
    market = catalog_of(exchange_id).get(symbol)
    try:
        sent = market.venue_order_amount(amount)
    except OrderRejected:
        assert amount < market.instrument.min_amount + market.instrument.contract_size
        return
    back = market.from_venue_amount(sent)
    assert back <= amount * (1 + 1e-12)
    assert amount - back < market.instrument.contract_size * (1 + 1e-9)
    lots = sent / market.venue_step
    assert abs(lots - round(lots)) <= 1e-9 * max(1.0, lots)
