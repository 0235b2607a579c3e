"""Recorded venue positions, parsed by real ccxt, become signed amounts and signed coin deltas."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgebot.model.account import Position
from hedgebot.model.errors import BadVenueData
from hedgebot.venues.ccxt.positions import position_from_ccxt
from tests.support.ccxt_recorded import catalog_of, load_json, loaded_exchange


def _deribit(raw: dict[str, Any]) -> Position:
    exchange = loaded_exchange("deribit")
    parsed = exchange.parse_position(raw)
    market = catalog_of("deribit").by_ccxt_symbol(parsed["symbol"])
    assert market is not None
    return position_from_ccxt(parsed, market, account="main", exchange_id="deribit")


def _recorded_deribit_perp() -> dict[str, Any]:
    return copy.deepcopy(load_json("deribit/get_positions_docs_example.json")["result"][0])


def test_deribit_long_perpetual_is_usd_amount_with_size_currency_delta() -> None:
    """Deribit's documented 50 USD long perp is +50 USD and +size_currency BTC of delta."""
    raw = _recorded_deribit_perp()
    position = _deribit(raw)
    assert position.amount == raw["size"] == 50
    assert position.venue_delta == raw["size_currency"]
    assert position.venue_delta == pytest.approx(raw["size"] / raw["mark_price"], rel=1e-6)
    assert position.average_price == raw["average_price"]


def test_deribit_short_perpetual_keeps_its_sign() -> None:
    """A short of -1000 USD at mark 50000 is -1000 USD and -0.02 BTC, not +1000 or -10000."""
    raw = _recorded_deribit_perp()
    raw.update(size=-1000, size_currency=-0.02, delta=-0.02, direction="sell", mark_price=50_000)
    parsed = loaded_exchange("deribit").parse_position(raw)
    naive_signed = (1 if parsed["side"] == "long" else -1) * parsed["contracts"]
    assert naive_signed == 1000  # the trap: ccxt's contracts are already signed
    assert parsed["contracts"] * parsed["contractSize"] == -10_000  # the other trap: tenfold
    position = _deribit(raw)
    assert position.amount == -1000
    assert position.venue_delta == pytest.approx(-1000 / 50_000)


def test_deribit_option_delta_is_the_venues_premium_adjusted_delta() -> None:
    """An option position is counted in coin and its delta is Deribit's own position delta."""
    instrument = load_json("deribit/instruments.json")["result"][2]
    raw = {
        "instrument_name": instrument["instrument_name"],
        "kind": "option",
        "size": -2.5,
        "delta": -0.61234,
        "direction": "sell",
        "average_price": 0.0415,
        "mark_price": 0.0398,
        "index_price": 92000.0,
    }
    position = _deribit(raw)
    assert position.key.symbol == instrument["instrument_name"]
    assert position.amount == -2.5
    assert position.venue_delta == raw["delta"]


def test_deribit_position_with_contradictory_signs_is_rejected() -> None:
    """size and size_currency of opposite signs are malformed data, not a position."""
    raw = _recorded_deribit_perp()
    raw["size_currency"] = -raw["size_currency"]
    with pytest.raises(BadVenueData, match="differ in sign"):
        _deribit(raw)


def test_deribit_direction_contradicting_size_is_rejected() -> None:
    """A 'buy' direction with a negative size is refused instead of guessing a sign."""
    raw = _recorded_deribit_perp()
    raw.update(direction="buy", size=-50, size_currency=-0.006687487)
    with pytest.raises(BadVenueData, match="contradicts"):
        _deribit(raw)


def _binance(exchange_id: str, raw: dict[str, Any]) -> Position:
    parsed = loaded_exchange(exchange_id).parse_position_risk(raw)
    market = catalog_of(exchange_id).by_ccxt_symbol(parsed["symbol"])
    assert market is not None
    return position_from_ccxt(parsed, market, account="main", exchange_id=exchange_id)


@pytest.mark.parametrize("index", [0, 1])
def test_binance_usdm_hedge_mode_legs_keep_their_signs(index: int) -> None:
    """Binance's LONG leg is +coin and its SHORT leg (negative positionAmt) is -coin."""
    raw = load_json("binance_usdm/position_risk_hedge.json")[index]
    position = _binance("binanceusdm", raw)
    assert position.amount == float(raw["positionAmt"])
    assert position.venue_delta == float(raw["positionAmt"])
    assert (position.amount > 0) == (raw["positionSide"] == "LONG")


def test_binance_usdm_one_way_position() -> None:
    """A one-way (BOTH) long of 0.001 BTC is +0.001 BTC of delta."""
    raw = load_json("binance_usdm/position_risk.json")[0]
    position = _binance("binanceusdm", raw)
    assert position.venue_delta == float(raw["positionAmt"]) > 0


def test_binance_coinm_short_is_usd_face_and_coin_delta() -> None:
    """3 short COIN-M contracts are -300 USD of face and -300/mark BTC of delta."""
    raw = {
        "symbol": "BTCUSD_260925",
        "positionAmt": "-3",
        "entryPrice": "60500.0",
        "markPrice": "60000.0",
        "positionSide": "BOTH",
        "notionalValue": "-0.005",
        "leverage": "20",
        "marginType": "cross",
        "isolatedMargin": "0",
        "unRealizedProfit": "0",
    }
    position = _binance("binancecoinm", raw)
    assert position.amount == -300
    assert position.venue_delta == pytest.approx(-300 / 60_000)
    assert position.venue_delta == pytest.approx(float(raw["notionalValue"]))
    assert (position.size_coin, position.size_field) == (-0.005, "notionalValue")


def test_bybit_linear_sides_become_signs() -> None:
    """Bybit's Buy 0.5 BTCUSDT is +0.5 BTC and Sell 5 ETHUSDT is -5 ETH."""
    exchange = loaded_exchange("bybit")
    catalog = catalog_of("bybit")
    rows = {r["symbol"]: r for r in load_json("bybit/positions.json")["result"]["list"]}
    deltas = {}
    for symbol in ("BTCUSDT", "ETHUSDT"):
        parsed = exchange.parse_position(rows[symbol])
        market = catalog.by_ccxt_symbol(parsed["symbol"])
        assert market is not None
        deltas[symbol] = position_from_ccxt(
            parsed, market, account="a", exchange_id="bybit"
        ).venue_delta
    assert deltas == {
        "BTCUSDT": float(rows["BTCUSDT"]["size"]),
        "ETHUSDT": -float(rows["ETHUSDT"]["size"]),
    }


def test_okx_inverse_cross_position_matches_ccxt_notional() -> None:
    """OKX's 1 BTC-USD-SWAP contract is 100 USD and 100/mark BTC, as ccxt's own notional says."""
    recorded = load_json("okx/ccxt_position_inverse_cross.json")
    raw = recorded["httpResponse"]["data"][0]
    parsed = loaded_exchange("okx").parse_position(raw)
    market = catalog_of("okx").by_ccxt_symbol(parsed["symbol"])
    assert market is not None
    position = position_from_ccxt(parsed, market, account="a", exchange_id="okx")
    assert position.amount == float(raw["pos"]) * recorded["parsedResponse_subset"]["contractSize"]
    assert position.venue_delta == pytest.approx(position.amount / float(raw["markPx"]))
    assert position.venue_delta == pytest.approx(recorded["parsedResponse_subset"]["notional"])


def test_okx_long_short_mode_signs_from_pos_side() -> None:
    """In long/short mode OKX's 'short' leg (positive pos) is a negative coin delta."""
    rows = load_json("okx/positions_long_short.json")["data"]
    exchange, catalog = loaded_exchange("okx"), catalog_of("okx")
    deltas = []
    for raw in rows:
        parsed = exchange.parse_position(raw)
        market = catalog.by_ccxt_symbol(parsed["symbol"])
        assert market is not None
        deltas.append(
            position_from_ccxt(parsed, market, account="a", exchange_id="okx").venue_delta
        )
    ct_val = float(load_json("okx/instruments_swap.json")["data"][2]["ctVal"])
    assert deltas == pytest.approx([5 * ct_val, -2 * ct_val])


@given(
    contracts=st.integers(min_value=-100_000, max_value=100_000).filter(lambda c: c != 0),
    mark=st.floats(min_value=100, max_value=1e6, allow_nan=False),
)
def test_inverse_coin_delta_times_mark_is_signed_usd_face(contracts: int, mark: float) -> None:
    """For COIN-M contracts, coin delta × mark equals the signed USD face, whatever the size."""
    raw = {
        "symbol": "BTCUSD_260925",
        "positionAmt": str(contracts),
        "entryPrice": str(mark),
        "markPrice": repr(mark),
        "positionSide": "BOTH",
        "notionalValue": repr(contracts * 100 / mark),
        "leverage": "20",
        "marginType": "cross",
        "isolatedMargin": "0",
        "unRealizedProfit": "0",
    }
    position = _binance("binancecoinm", raw)
    assert position.venue_delta is not None
    assert position.venue_delta * mark == pytest.approx(position.amount, rel=1e-12)
    assert position.amount == contracts * 100
