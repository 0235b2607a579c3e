"""ccxt position dicts -> `hedgebot.model.account.Position`, with the venue's signed coin delta.

Owns the sign and unit rules of docs/venues.md for each venue:

* Deribit: ``info['size']`` is Deribit's own signed amount (USD for inverse perps and futures,
  coin for options and linear perps). Coin delta: ``info['size_currency']``; for options
  ``info['delta']``, Deribit's premium-adjusted position delta.
* Binance USDⓈ-M / COIN-M: ``info['positionAmt']`` is signed contracts.
* Bybit: ``info['size']`` is unsigned, ``info['side']`` is Buy or Sell.
* OKX: ``info['pos']`` is signed in net mode; ``info['posSide']`` long/short otherwise.

Where the venue gives a second size figure in another unit (Deribit ``size_currency``), it is kept
as `Position.size_coin` for `hedgebot.core.size_check`.

The sign always comes from the venue's raw fields and is checked against ccxt's ``side``; the two
are never multiplied together (Deribit's ccxt ``contracts`` is already signed). Linear contracts'
coin delta is their coin amount; inverse USD face divides by the position's mark price.

It must not import ccxt or perform I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hedgebot.model.account import Position
from hedgebot.model.errors import BadVenueData
from hedgebot.model.instruments import Kind
from hedgebot.venues.ccxt.markets import VenueMarket


def position_from_ccxt(
    position: Mapping[str, Any], market: VenueMarket, *, account: str, exchange_id: str
) -> Position:
    """The hedgebot Position of one ccxt position dict (raises BadVenueData if inconsistent)."""
    info = position.get("info") or {}
    if not isinstance(info, Mapping):
        raise BadVenueData(f"{market.instrument.symbol}: position without raw info")
    signed_venue_size = _signed_venue_size(position, info, exchange_id)
    _check_side(position.get("side"), signed_venue_size, market)
    amount = market.from_venue_amount(signed_venue_size)
    venue_delta = _venue_delta(position, info, market, amount, exchange_id)
    if not math.isfinite(amount) or (venue_delta is not None and not math.isfinite(venue_delta)):
        raise BadVenueData(
            f"{market.instrument.symbol}: size {signed_venue_size} gives amount {amount} and "
            f"coin delta {venue_delta}"
        )
    size_coin, size_field = _second_size(info, market, exchange_id, signed_venue_size)
    return Position(
        account=account,
        key=market.instrument.key,
        amount=amount,
        average_price=_number(position.get("entryPrice")) or 0.0,
        venue_delta=venue_delta,
        size_coin=size_coin,
        size_field=size_field,
    )


def _second_size(
    info: Mapping[str, Any], market: VenueMarket, exchange_id: str, signed_venue_size: float
) -> tuple[float | None, str]:
    """The venue's second size figure in coin, independent of the one `amount` came from.

    Each is a value the venue computed itself, divided by the price it says it used, so it does
    not go through hedgebot's contract size or unit rules (docs/venues.md, "Two size figures"):

    * Deribit: `size_currency` (coin) beside `size` (USD face for inverse contracts; for linear
      USDC ones the documentation is ambiguous, which this check settles);
    * Binance USDⓈ-M: `notional` / `markPrice` (signed, quote currency at the mark); COIN-M:
      `notionalValue` (signed, coin);
    * Bybit linear: `positionValue` / `avgPrice` (unsigned, at the entry price; `entryPrice` on
      the websocket), signed like the position;
    * OKX swaps and futures: `notionalUsd` / `markPx` (unsigned, USD; for inverse contracts the
      USD face), signed like the position.

    `hedgebot.core.size_check` compares them with the amount converted to coin.
    """
    if market.instrument.kind is Kind.OPTION:
        return None, ""
    if exchange_id == "deribit":
        coin = _number(info.get("size_currency"))
        return (coin, "size_currency") if coin is not None else (None, "")
    if exchange_id == "binanceusdm":
        return _value_over_price(info, "notional", "markPrice", None)
    if exchange_id == "binancecoinm":
        coin = _number(info.get("notionalValue"))
        return (coin, "notionalValue") if coin is not None else (None, "")
    if exchange_id == "bybit" and not market.instrument.amount_is_usd:
        price_field = "avgPrice" if _number(info.get("avgPrice")) else "entryPrice"
        return _value_over_price(info, "positionValue", price_field, signed_venue_size)
    if exchange_id == "okx":
        return _value_over_price(info, "notionalUsd", "markPx", signed_venue_size)
    return None, ""


def _value_over_price(
    info: Mapping[str, Any], value_field: str, price_field: str, sign_of: float | None
) -> tuple[float | None, str]:
    """value / price in coin, named "value_field / price_field"; signed like `sign_of` when
    the venue's value is unsigned (None: the value carries its own sign)."""
    value, price = _number(info.get(value_field)), _number(info.get(price_field))
    if value is None or price is None or price <= 0:
        return None, ""
    coin = value / price
    if sign_of is not None:
        coin = math.copysign(abs(coin), sign_of) if sign_of else abs(coin)
    return coin, f"{value_field} / {price_field}"


def _signed_venue_size(
    position: Mapping[str, Any], info: Mapping[str, Any], exchange_id: str
) -> float:
    if exchange_id == "deribit":
        return _required(info.get("size"), "size")
    if exchange_id.startswith("binance"):
        return _required(info.get("positionAmt"), "positionAmt")
    if exchange_id == "bybit":
        size = abs(_required(info.get("size"), "size"))
        side = str(info.get("side") or "")
        if size == 0:
            return 0.0
        if side not in ("Buy", "Sell"):
            raise BadVenueData(f"bybit position of size {size} with side {side!r}")
        return size if side == "Buy" else -size
    if exchange_id == "okx":
        pos = _required(info.get("pos"), "pos")
        pos_side = str(info.get("posSide") or "net")
        if pos_side == "long":
            return abs(pos)
        if pos_side == "short":
            return -abs(pos)
        return pos
    contracts = abs(_required(position.get("contracts"), "contracts"))
    return contracts if position.get("side") == "long" else -contracts


def _check_side(side: Any, signed_venue_size: float, market: VenueMarket) -> None:
    if signed_venue_size == 0 or side not in ("long", "short"):
        return
    if (side == "long") != (signed_venue_size > 0):
        raise BadVenueData(
            f"{market.instrument.symbol}: ccxt side {side!r} contradicts the venue's signed size "
            f"{signed_venue_size}"
        )


def _venue_delta(
    position: Mapping[str, Any],
    info: Mapping[str, Any],
    market: VenueMarket,
    amount: float,
    exchange_id: str,
) -> float | None:
    instrument = market.instrument
    if exchange_id == "deribit":
        return _deribit_delta(info, instrument.kind, amount, instrument.symbol)
    if instrument.kind is Kind.OPTION:
        return None  # the core computes option deltas from greeks where the venue gives none
    if not instrument.amount_is_usd:
        return amount
    mark = _number(position.get("markPrice"))
    if mark is None or mark <= 0:
        return None
    return amount / mark


def _deribit_delta(info: Mapping[str, Any], kind: Kind, amount: float, symbol: str) -> float:
    if kind is Kind.OPTION:
        return _required(info.get("delta"), "delta")
    coin = _number(info.get("size_currency"))
    if coin is None:
        coin = _required(info.get("delta"), "delta")
    if coin != 0 and amount != 0 and (coin > 0) != (amount > 0):
        raise BadVenueData(f"{symbol}: size {amount} and size_currency {coin} differ in sign")
    return coin


def _required(value: Any, name: str) -> float:
    number = _number(value)
    if number is None:
        raise BadVenueData(f"position field {name} is missing or not a finite number: {value!r}")
    return number


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
