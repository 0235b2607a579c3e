"""Order-book depth the matching engine trades against, as frozen values.

Owns `BookLevel` and `OrderBook`, the synthetic book shape (a spread around the mark rounded to
ticks, `levels` levels each side with sizes growing away from the top so big orders walk the
book) both for simulated marks (`top_of_book`, `synthetic_book`) and for real quotes that carry
no depth (`book_from_quote`), and `takeable`, the levels an order may take. It must not know
about orders' lifecycle, accounts or how marks are produced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hedgebot.model.instruments import Instrument, InstrumentKey, Kind
from hedgebot.model.market import Quote
from hedgebot.model.orders import Side
from hedgebot.venues.sim.settings import BookSettings

FloatArray = NDArray[np.float64]
_PRICE_EPSILON = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class BookLevel:
    """One price level: `amount` in the instrument's amount unit."""

    price: float
    amount: float


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderBook:
    """Depth of one instrument at one instant; bids and asks best first."""

    key: InstrumentKey
    timestamp_ms: int
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]

    def opposite(self, side: Side) -> tuple[BookLevel, ...]:
        """The levels an order of `side` trades against (asks for a buy)."""
        return self.asks if side is Side.BUY else self.bids


def spread_fraction(instrument: Instrument, settings: BookSettings) -> float:
    """Full bid/ask width of an instrument as a fraction of its mark."""
    if instrument.kind is Kind.OPTION:
        return settings.option_spread_bps * 1e-4
    if instrument.kind is Kind.SPOT:
        return settings.spot_spread_bps * 1e-4
    return settings.future_spread_bps * 1e-4


def top_of_book(
    marks: FloatArray, *, ticks_per_unit: FloatArray, spread: float | FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Best bid and ask around each mark: `spread` wide, on ticks, a tick apart or more, bid ≥ 0.
    `ticks_per_unit` is `ticks_per_unit(tick)` of each instrument."""
    bid_ticks = np.floor(marks * ((1.0 - 0.5 * spread) * ticks_per_unit) + _PRICE_EPSILON)
    ask_ticks = np.ceil(marks * ((1.0 + 0.5 * spread) * ticks_per_unit) - _PRICE_EPSILON)
    np.maximum(ask_ticks, bid_ticks + 1.0, out=ask_ticks)
    np.maximum(bid_ticks, 0.0, out=bid_ticks)
    return bid_ticks / ticks_per_unit, ask_ticks / ticks_per_unit


def ticks_per_unit(tick: float | FloatArray) -> FloatArray:
    """1/tick, exactly the integer it should be for decimal ticks (0.0005 -> 2000), so that
    whole ticks divided by it give the shortest decimal price (231/2000 = 0.1155)."""
    inverse = 1.0 / np.asarray(tick, dtype=np.float64)
    whole = np.round(inverse)
    return np.where(np.abs(inverse - whole) < 1e-9 * whole, whole, inverse)


def synthetic_book(
    instrument: Instrument,
    *,
    bid: float,
    ask: float,
    mark: float,
    spot: float,
    settings: BookSettings,
    timestamp_ms: int,
) -> OrderBook:
    """Depth around a best bid and ask: level sizes grow by `depth_growth` away from the top."""
    spacing_bps = (
        settings.option_level_spacing_bps
        if instrument.kind is Kind.OPTION
        else settings.level_spacing_bps
    )
    tick = instrument.tick_size if instrument.tick_size > 0 else mark * 1e-6
    spacing = max(1, math.ceil(mark * spacing_bps * 1e-4 / tick - _PRICE_EPSILON)) * tick
    top_lots = _top_lots(instrument, spot, settings)
    bids: list[BookLevel] = []
    asks: list[BookLevel] = []
    for level in range(settings.levels):
        amount = round(_level_lots(top_lots, level, settings) * instrument.contract_size, 10)
        bid_price = round(bid - level * spacing, 12)
        if bid > 0 and bid_price > _PRICE_EPSILON:
            bids.append(BookLevel(price=bid_price, amount=amount))
        asks.append(BookLevel(price=round(ask + level * spacing, 12), amount=amount))
    return OrderBook(
        key=instrument.key, timestamp_ms=timestamp_ms, bids=tuple(bids), asks=tuple(asks)
    )


def book_from_quote(quote: Quote, instrument: Instrument, settings: BookSettings) -> OrderBook:
    """Synthetic depth behind a real quote that carries only the top of book."""
    ask = quote.ask if quote.ask > 0 else quote.mark_price + max(instrument.tick_size, 0.0)
    book = synthetic_book(
        instrument,
        bid=quote.bid,
        ask=ask,
        mark=quote.mark_price,
        spot=quote.underlying_price,
        settings=settings,
        timestamp_ms=quote.timestamp_ms,
    )
    if quote.ask > 0:
        return book
    return OrderBook(key=book.key, timestamp_ms=book.timestamp_ms, bids=book.bids, asks=())


def takeable(
    book: OrderBook, side: Side, limit_price: float, contract_size: float
) -> list[tuple[float, int]]:
    """(price, whole contracts) of each level an order of `side` limited at `limit_price` may take,
    best first."""
    result: list[tuple[float, int]] = []
    for level in book.opposite(side):
        beyond = (
            level.price > limit_price + _PRICE_EPSILON
            if side is Side.BUY
            else level.price < limit_price - _PRICE_EPSILON
        )
        if beyond:
            break
        result.append((level.price, round(level.amount / contract_size)))
    return result


def _top_lots(instrument: Instrument, spot: float, settings: BookSettings) -> int:
    usd = (
        settings.option_top_depth_usd if instrument.kind is Kind.OPTION else settings.top_depth_usd
    )
    amount = usd if instrument.amount_is_usd else usd / spot
    return max(1, round(amount / instrument.contract_size))


def _level_lots(top_lots: int, level: int, settings: BookSettings) -> int:
    return max(1, round(top_lots * settings.depth_growth**level))
