"""ccxt tickers -> `hedgebot.model.market.Quote` and `IndexPrice`, rejecting bad data.

Owns the price fields of each venue's ticker. Deribit's raw ticker (``info``) is authoritative:
``best_bid_price``/``best_ask_price`` (0 or absent for an empty side), ``mark_price`` (in coin for
inverse options), ``underlying_price`` (the forward of the expiry; absent for perpetuals, where
the mark is used), ``mark_iv`` in percent (stored as a fraction), ``index_price``, ``funding_8h``.
Elsewhere the unified ``bid``/``ask``/``markPrice``/``indexPrice`` are used, the mark falling back
to the mid (then the last price) where a venue's ticker carries none.

A missing, non-finite, negative or zero mark, a crossed book or an absurd implied volatility raises
`BadVenueData`; the feed logs and drops it. It must not import ccxt or perform I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hedgebot.model.errors import BadVenueData
from hedgebot.model.instruments import Kind
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.venues.ccxt.markets import VenueMarket


def quote_from_ticker(
    ticker: Mapping[str, Any], market: VenueMarket, *, exchange_id: str, now_ms: int
) -> Quote:
    """The Quote of one ccxt ticker; raises BadVenueData for unusable data."""
    info = _info(ticker)
    symbol = market.instrument.symbol
    if exchange_id == "deribit":
        bid = _side(info.get("best_bid_price", ticker.get("bid")), symbol, "bid")
        ask = _side(info.get("best_ask_price", ticker.get("ask")), symbol, "ask")
        mark = _price(info.get("mark_price", ticker.get("markPrice")), symbol, "mark_price")
        underlying = _optional_price(info.get("underlying_price"), symbol, "underlying_price")
        iv_percent = _optional_price(info.get("mark_iv"), symbol, "mark_iv")
        funding = _finite_or_none(info.get("funding_8h"))
    else:
        bid = _side(ticker.get("bid"), symbol, "bid")
        ask = _side(ticker.get("ask"), symbol, "ask")
        mark = _generic_mark(ticker, info, bid, ask, symbol)
        underlying = _optional_price(info.get("underlyingPrice"), symbol, "underlyingPrice")
        iv_percent = _generic_iv_percent(info, symbol)
        funding = None
    if bid > 0 and ask > 0 and bid > ask:
        raise BadVenueData(f"{symbol}: crossed book, bid {bid} above ask {ask}")
    if market.instrument.kind is Kind.OPTION:
        if underlying is None:
            hint = _OPTION_HINTS.get(exchange_id, "")
            raise BadVenueData(f"{symbol}: option quote without underlying price{hint}")
        if iv_percent is None or not 0 < iv_percent < 2000:
            raise BadVenueData(f"{symbol}: absurd implied volatility {iv_percent}")
    elif underlying is None:
        underlying = mark
    try:
        return Quote(
            key=market.instrument.key,
            timestamp_ms=_timestamp(ticker, now_ms),
            bid=bid,
            ask=ask,
            mark_price=mark,
            underlying_price=underlying,
            mark_iv=iv_percent / 100
            if market.instrument.kind is Kind.OPTION and iv_percent
            else None,
            funding_rate_8h=funding,
        )
    except ValueError as exc:
        raise BadVenueData(str(exc)) from None


_OPTION_HINTS = {
    "okx": (
        "; OKX option tickers carry no forward or implied volatility (they are in OKX's "
        "opt-summary, which hedgebot does not read yet), so OKX options cannot be valued"
    ),
}
"""Why a venue's option tickers cannot be valued, appended to the refusal (docs/venues.md)."""


def index_from_ticker(
    ticker: Mapping[str, Any], market: VenueMarket, *, venue: str, now_ms: int
) -> IndexPrice | None:
    """The spot index carried by a ticker (Deribit ``index_price``), None if it carries none."""
    info = _info(ticker)
    raw = ticker.get("indexPrice")
    if raw is None:
        raw = info.get("index_price", info.get("indexPrice"))
    price = _finite_or_none(raw)
    if price is None or price <= 0:
        return None
    return IndexPrice(
        venue=venue,
        underlying=market.instrument.underlying,
        price=price,
        timestamp_ms=_timestamp(ticker, now_ms),
    )


def _info(ticker: Mapping[str, Any]) -> Mapping[str, Any]:
    info = ticker.get("info")
    return info if isinstance(info, Mapping) else {}


def _generic_mark(
    ticker: Mapping[str, Any], info: Mapping[str, Any], bid: float, ask: float, symbol: str
) -> float:
    for raw in (ticker.get("markPrice"), info.get("markPrice")):
        if raw is not None:
            return _price(raw, symbol, "markPrice")
    if bid > 0 and ask > 0:
        return 0.5 * (bid + ask)
    return _price(ticker.get("last"), symbol, "last")


def _generic_iv_percent(info: Mapping[str, Any], symbol: str) -> float | None:
    for key in ("markIv", "markPriceIv", "markVol"):
        if info.get(key) not in (None, ""):
            fraction = _optional_price(info.get(key), symbol, key)
            return None if fraction is None else fraction * 100
    return None


def _timestamp(ticker: Mapping[str, Any], now_ms: int) -> int:
    value = _finite_or_none(ticker.get("timestamp"))
    return int(value) if value is not None and value > 0 else now_ms


def _side(value: Any, symbol: str, name: str) -> float:
    """A bid or ask: 0 for an empty side, otherwise a finite non-negative price."""
    if value is None or value == "":
        return 0.0
    number = _finite_or_none(value)
    if number is None or number < 0:
        raise BadVenueData(f"{symbol}: {name} is not a usable price: {value!r}")
    return number


def _price(value: Any, symbol: str, name: str) -> float:
    number = _finite_or_none(value)
    if number is None or number <= 0:
        raise BadVenueData(f"{symbol}: {name} must be a positive finite price, got {value!r}")
    return number


def _optional_price(value: Any, symbol: str, name: str) -> float | None:
    if value is None or value == "":
        return None
    return _price(value, symbol, name)


def _finite_or_none(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
