"""Recorded tickers become quotes and index prices; malformed ones are refused."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from hedgebot.model.errors import BadVenueData
from hedgebot.model.instruments import Instrument, Kind, OptionType, Settlement, deribit_expiry_ms
from hedgebot.venues.ccxt.markets import VenueMarket
from hedgebot.venues.ccxt.quotes import index_from_ticker, quote_from_ticker
from tests.support.ccxt_recorded import catalog_of, load_json, loaded_exchange


def _tardis(channel: str) -> dict[str, Any]:
    messages = load_json("deribit/tardis_ws_messages.json")
    return copy.deepcopy(
        next(m for m in messages if m["params"]["channel"] == channel)["params"]["data"]
    )


def _deribit_option(symbol: str) -> VenueMarket:
    _, code, strike, letter = symbol.split("-")
    instrument = Instrument(
        venue="deribit",
        symbol=symbol,
        underlying="BTC",
        kind=Kind.OPTION,
        settlement=Settlement.INVERSE,
        contract_size=0.1,
        min_amount=0.1,
        tick_size=0.0005,
        expiry_ms=deribit_expiry_ms(code),
        strike=float(strike),
        option_type=OptionType.CALL if letter == "C" else OptionType.PUT,
    )
    return VenueMarket(
        instrument=instrument,
        ccxt_symbol=f"BTC/USD:BTC-{symbol}",
        settle="BTC",
        amount_scale=1.0,
        venue_step=0.1,
        venue_min=0.1,
    )


def test_deribit_perpetual_ticker() -> None:
    """Deribit's perp ticker gives book, mark (as forward), 8h funding and the BTC index."""
    data = load_json("deribit/ws_ticker_perpetual.json")["params"]["data"]
    ticker = loaded_exchange("deribit").parse_ticker(data)
    market = catalog_of("deribit").get("BTC-PERPETUAL")
    quote = quote_from_ticker(ticker, market, exchange_id="deribit", now_ms=0)
    assert (quote.bid, quote.ask) == (data["best_bid_price"], data["best_ask_price"])
    assert quote.mark_price == quote.underlying_price == data["mark_price"]
    assert quote.funding_rate_8h == data["funding_8h"]
    assert quote.timestamp_ms == data["timestamp"]
    assert quote.mark_iv is None
    index = index_from_ticker(ticker, market, venue="deribit", now_ms=0)
    assert index is not None
    assert (index.underlying, index.price) == ("BTC", data["index_price"])


def test_deribit_option_ticker_keeps_coin_mark_and_forward() -> None:
    """An option quote keeps the coin premium, the expiry's forward and mark_iv as a fraction."""
    data = _tardis("ticker.BTC-5JUN20-9250-C.raw")
    ticker = loaded_exchange("deribit").parse_ticker(data)
    quote = quote_from_ticker(
        ticker, _deribit_option("BTC-5JUN20-9250-C"), exchange_id="deribit", now_ms=0
    )
    assert quote.mark_price == data["mark_price"] < 1  # BTC, not USD
    assert quote.underlying_price == data["underlying_price"]
    assert quote.mark_iv == pytest.approx(data["mark_iv"] / 100)


def test_expired_option_with_zero_mark_is_refused() -> None:
    """A closed option whose mark is 0 is not a price: BadVenueData."""
    data = _tardis("ticker.BTC-8JUN20-8750-P.raw")
    ticker = loaded_exchange("deribit").parse_ticker(data)
    with pytest.raises(BadVenueData, match="mark_price"):
        quote_from_ticker(
            ticker, _deribit_option("BTC-8JUN20-8750-P"), exchange_id="deribit", now_ms=0
        )


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("mark_price", math.nan, "mark_price"),
        ("mark_price", "oops", "mark_price"),
        ("best_bid_price", 99_999_999.0, "crossed"),
        ("best_ask_price", -1.0, "ask"),
        ("mark_price", math.inf, "mark_price"),
    ],
)
def test_malformed_perpetual_tickers_are_refused(field: str, value: object, match: str) -> None:
    """NaN, infinite, negative, non-numeric or crossed prices never reach the core."""
    data = load_json("deribit/ws_ticker_perpetual.json")["params"]["data"]
    ticker = loaded_exchange("deribit").parse_ticker(data)
    ticker["info"] = {**data, field: value}
    with pytest.raises(BadVenueData, match=match):
        quote_from_ticker(
            ticker, catalog_of("deribit").get("BTC-PERPETUAL"), exchange_id="deribit", now_ms=0
        )


def test_option_without_forward_is_refused() -> None:
    """Greeks need the forward: an option ticker without underlying_price is refused."""
    data = _tardis("ticker.BTC-5JUN20-9250-C.raw")
    del data["underlying_price"]
    ticker = loaded_exchange("deribit").parse_ticker(data)
    with pytest.raises(BadVenueData, match="underlying"):
        quote_from_ticker(
            ticker, _deribit_option("BTC-5JUN20-9250-C"), exchange_id="deribit", now_ms=0
        )


def test_bybit_linear_ticker() -> None:
    """Bybit's linear ticker gives book, mark and index."""
    message = load_json("bybit/ws_ticker_linear.json")
    data = message["data"]
    exchange = loaded_exchange("bybit")
    ticker = exchange.parse_ticker(data, exchange.market("BTC/USDT:USDT"))
    market = catalog_of("bybit").get("BTCUSDT")
    quote = quote_from_ticker(ticker, market, exchange_id="bybit", now_ms=message["ts"])
    assert (quote.bid, quote.ask) == (float(data["bid1Price"]), float(data["ask1Price"]))
    assert quote.mark_price == quote.underlying_price == float(data["markPrice"])
    index = index_from_ticker(ticker, market, venue="bybit", now_ms=message["ts"])
    assert index is not None
    assert index.price == float(data["indexPrice"])


def test_ticker_without_mark_falls_back_to_mid() -> None:
    """Where a venue's ticker has no mark, the quote's mark is the mid of the book."""
    market = catalog_of("binanceusdm").get("BTCUSDT")
    ticker = {"symbol": "BTC/USDT:USDT", "bid": 100.0, "ask": 101.0, "timestamp": 5, "info": {}}
    quote = quote_from_ticker(ticker, market, exchange_id="binanceusdm", now_ms=0)
    assert quote.mark_price == 100.5


def _option(venue: str, symbol: str, ccxt_symbol: str, strike: float) -> VenueMarket:
    instrument = Instrument(
        venue=venue,
        symbol=symbol,
        underlying="BTC",
        kind=Kind.OPTION,
        settlement=Settlement.LINEAR,
        contract_size=0.01,
        min_amount=0.01,
        tick_size=5.0,
        expiry_ms=deribit_expiry_ms("6JAN23"),
        strike=strike,
        option_type=OptionType.CALL,
    )
    return VenueMarket(
        instrument=instrument,
        ccxt_symbol=ccxt_symbol,
        settle="USDC",
        amount_scale=1.0,
        venue_step=0.01,
        venue_min=0.01,
    )


def test_bybit_option_ticker_is_valued_from_its_own_fields() -> None:
    """Bybit's option ticker carries the forward (underlyingPrice) and the mark IV as a
    fraction (markPriceIv): the quote keeps both."""
    data = load_json("bybit/ws_ticker_option.json")["data"]
    ticker = loaded_exchange("bybit").parse_ticker(data)
    market = _option("bybit", "BTC-6JAN23-17500-C", "BTC/USDC:USDC-230106-17500-C", 17_500.0)
    quote = quote_from_ticker(ticker, market, exchange_id="bybit", now_ms=0)
    assert quote.underlying_price == pytest.approx(16_815.1)
    assert quote.mark_iv == pytest.approx(0.4896)
    assert quote.mark_price == pytest.approx(7.86976724)


def test_okx_option_ticker_is_refused_with_the_reason() -> None:
    """OKX's market ticker (fields as OKX documents GET /api/v5/market/ticker) has no forward
    and no volatility: the refusal says so instead of a bare missing field."""
    raw = {
        "instType": "OPTION",
        "instId": "BTC-USD-230106-17500-C",
        "last": "0.0005",
        "lastSz": "1",
        "askPx": "0.0006",
        "askSz": "10",
        "bidPx": "0.0004",
        "bidSz": "10",
        "open24h": "0.0005",
        "high24h": "0.0006",
        "low24h": "0.0004",
        "volCcy24h": "1",
        "vol24h": "100",
        "sodUtc0": "0.0005",
        "sodUtc8": "0.0005",
        "ts": "1672917511074",
    }
    ticker = loaded_exchange("okx").parse_ticker(raw)
    market = _option("okx", "BTC-USD-230106-17500-C", "BTC/USD:BTC-230106-17500-C", 17_500.0)
    with pytest.raises(BadVenueData, match="OKX option tickers carry no forward"):
        quote_from_ticker(ticker, market, exchange_id="okx", now_ms=0)
