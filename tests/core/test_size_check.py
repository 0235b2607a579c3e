"""Two size figures per position: on the recorded payloads of Deribit (`size` and
`size_currency`), Binance USDⓈ-M (`positionAmt` and `notional` / `markPrice`), Bybit (`size` and
`positionValue` / `avgPrice`) and OKX (`pos` × ctVal and `notionalUsd` / `markPx`) the two agree;
a unit misread (the documented USDC-linear ambiguity, a contract count read as coin) makes the
underlying incomplete, so trading on it holds, and the reason names the field."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.core.size_check import SIZE_TOLERANCE, disagreeing
from hedgebot.model.account import Position
from hedgebot.model.market import Quote
from hedgebot.venues.ccxt.positions import position_from_ccxt
from tests.support.ccxt_recorded import catalog_of, load_json, loaded_exchange


def _recorded() -> dict[str, Any]:
    return copy.deepcopy(load_json("deribit/get_positions_docs_example.json")["result"][0])


def _position(raw: dict[str, Any]) -> Position:
    parsed = loaded_exchange("deribit").parse_position(raw)
    market = catalog_of("deribit").by_ccxt_symbol(parsed["symbol"])
    assert market is not None
    return position_from_ccxt(parsed, market, account="main", exchange_id="deribit")


def _risk(position: Position, mark: float, exchange_id: str = "deribit") -> Any:
    instruments = {i.key: i for i in catalog_of(exchange_id).instruments}
    quote = Quote(
        key=position.key,
        timestamp_ms=0,
        bid=mark,
        ask=mark,
        mark_price=mark,
        underlying_price=mark,
    )
    underlying = instruments[position.key].underlying
    book = AccountBook(account="main", positions=(position,), count_collateral=False)
    return assess(
        BookSnapshot(
            books=[book],
            instruments=instruments,
            quotes={position.key: quote},
            index_prices={underlying: mark},
            now_ms=0,
        )
    ).underlyings[underlying]


def test_recorded_size_and_size_currency_agree_and_the_position_is_valued() -> None:
    """50 USD face at mark 7476.65 is 0.0066875 BTC: size_currency says 0.006687487."""
    raw = _recorded()
    position = _position(raw)
    assert position.size_coin == raw["size_currency"]
    assert position.size_field == "size_currency"
    risk = _risk(position, raw["mark_price"])
    assert risk.complete
    assert risk.net_delta == pytest.approx(raw["size_currency"], rel=1e-6)


def test_size_read_in_the_wrong_unit_is_not_valued_and_names_the_field() -> None:
    """size_currency of 50 (the USD face taken for coin) disagrees by a factor of the price:
    BTC is incomplete, so the engine holds it, and the reason names `size_currency`."""
    raw = _recorded()
    raw["size_currency"] = 50.0
    risk = _risk(_position(raw), raw["mark_price"])
    assert not risk.complete
    assert risk.net_delta == 0.0
    [reason] = risk.missing
    assert "BTC-PERPETUAL" in reason
    assert "size_currency 50 coin" in reason
    assert "USD face" in reason


def test_rounding_within_tolerance_agrees_and_beyond_it_does_not() -> None:
    """Inverse: 1000 USD at 50,000 is 0.02 BTC; 1 % off is rounding, 5 % off is not."""
    amounts = np.array([1000.0, 1000.0, 1000.0, 2.0])
    usd_face = np.array([True, True, True, False])
    price = np.full(4, 50_000.0)
    second = np.array([0.02 * 1.01, 0.02 * 1.05, np.nan, 2.0])
    assert disagreeing(amounts, usd_face, price, second).tolist() == [False, True, False, False]
    assert SIZE_TOLERANCE == 0.02


def _raw_of(venue: str, index: int) -> dict[str, Any]:
    """One recorded position row of `venue` (tests/data, see its README)."""
    if venue == "binanceusdm":
        rows = [
            *load_json("binance_usdm/position_risk.json"),
            *load_json("binance_usdm/position_risk_hedge.json"),
        ]
    elif venue == "bybit":
        rows = load_json("bybit/positions.json")["result"]["list"][:2]
    else:
        rows = load_json("okx/ccxt_position_inverse_cross.json")["httpResponse"]["data"]
    return copy.deepcopy(rows[index])


def _venue_position(venue: str, raw: dict[str, Any]) -> Position:
    exchange = loaded_exchange(venue)
    parsed = (
        exchange.parse_position_risk(raw)
        if venue == "binanceusdm"
        else exchange.parse_position(raw)
    )
    market = catalog_of(venue).by_ccxt_symbol(parsed["symbol"])
    assert market is not None
    return position_from_ccxt(parsed, market, account="main", exchange_id=venue)


MARK = {"binanceusdm": "markPrice", "bybit": "markPrice", "okx": "markPx"}
SIZE = {"binanceusdm": "positionAmt", "bybit": "size", "okx": "pos"}
SECOND = {
    "binanceusdm": "notional / markPrice",
    "bybit": "positionValue / avgPrice",
    "okx": "notionalUsd / markPx",
}
RECORDED = [
    ("binanceusdm", 0),  # one-way long 0.001 BTCUSDT
    ("binanceusdm", 1),  # hedge mode LONG 0.005
    ("binanceusdm", 2),  # hedge mode SHORT -0.002
    ("bybit", 0),  # Buy 0.5 BTCUSDT, entry 50,000, mark 50,500
    ("bybit", 1),  # Sell 5 ETHUSDT
    ("okx", 0),  # 1 BTC-USD-SWAP contract (100 USD), real, from ccxt's static tests
]


@pytest.mark.parametrize(("venue", "index"), RECORDED)
def test_recorded_second_size_agrees_and_the_position_is_valued(venue: str, index: int) -> None:
    """Each recorded row's venue value / price is the same coin size as its amount: valued."""
    raw = _raw_of(venue, index)
    position = _venue_position(venue, raw)
    assert position.size_field == SECOND[venue]
    assert position.size_coin is not None
    assert position.venue_delta is not None
    assert position.size_coin == pytest.approx(position.venue_delta, rel=SIZE_TOLERANCE / 4)
    risk = _risk(position, float(raw[MARK[venue]]), venue)
    assert risk.complete, risk.missing
    assert risk.net_delta == pytest.approx(position.venue_delta, rel=1e-9)


@pytest.mark.parametrize(("venue", "index"), RECORDED)
def test_recorded_size_misread_by_a_contract_factor_holds_and_names_the_field(
    venue: str, index: int
) -> None:
    """The size field 100 times what the venue's value says (a contract count read as coin,
    a lot size missed): that underlying is incomplete, so the engine holds it, and the reason
    names the venue's field."""
    raw = _raw_of(venue, index)
    raw[SIZE[venue]] = str(float(raw[SIZE[venue]]) * 100)
    position = _venue_position(venue, raw)
    risk = _risk(position, float(raw[MARK[venue]]), venue)
    assert not risk.complete
    assert risk.net_delta == 0.0
    [reason] = risk.missing
    assert SECOND[venue] in reason
    assert "unit or convention error" in reason
