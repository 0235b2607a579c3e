"""What the local Deribit exchange needs from the simulated venue behind it.

Owns the `SimExchange` protocol (the read accessors and per-account brokers of
`hedgebot.venues.sim.SimulatedExchange`) and `MarketView`, the one place that turns the venue's
market state into plain numbers for the wire encoders: top-of-book sizes, depth, the index of an
instrument, Black-76 greeks of an option and the instantaneous price band of an instrument.

It must not know Deribit's wire format or keep any state of its own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from hedgebot.core.greeks import black76
from hedgebot.model.instruments import Instrument, Kind, OptionType, years_between
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.venues.ports import Broker

PRICE_BAND = 0.05
"""Limit prices are accepted within this fraction of the mark (Deribit's min/max price)."""


class BookLevelLike(Protocol):
    """One level of depth: price and amount in the instrument's amount unit."""

    @property
    def price(self) -> float: ...

    @property
    def amount(self) -> float: ...


class OrderBookLike(Protocol):
    """Depth of one instrument, best level first on each side."""

    @property
    def bids(self) -> Sequence[BookLevelLike]: ...

    @property
    def asks(self) -> Sequence[BookLevelLike]: ...


class SimExchange(Protocol):
    """The simulated venue: market state and one broker per account."""

    def quote(self, symbol: str) -> Quote:
        """Latest quote of one instrument."""
        ...

    def index(self, underlying: str) -> IndexPrice:
        """Spot index of one underlying."""
        ...

    def book(self, symbol: str) -> OrderBookLike:
        """Depth of one instrument."""
        ...

    async def instruments(self) -> Sequence[Instrument]:
        """Every listed instrument."""
        ...

    def broker(self, account: str) -> Broker:
        """Order entry and state of one account."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Greeks:
    """Option greeks in Deribit's units (vega per vol point, theta per day), unrounded."""

    delta: float
    gamma: float
    vega: float
    theta: float
    rho: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Depth:
    """Depth as (price, amount) pairs, best first."""

    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]

    def best_bid(self) -> tuple[float, float]:
        """Best bid price and amount; zeros when the side is empty."""
        return self.bids[0] if self.bids else (0.0, 0.0)

    def best_ask(self) -> tuple[float, float]:
        """Best ask price and amount; zeros when the side is empty."""
        return self.asks[0] if self.asks else (0.0, 0.0)


class MarketView:
    """Read-only numbers about instruments, from the simulated venue's current state."""

    def __init__(self, exchange: SimExchange, instruments: Mapping[str, Instrument]) -> None:
        self.exchange = exchange
        self.instruments = dict(instruments)

    def instrument(self, symbol: str) -> Instrument | None:
        """The instrument named `symbol`, if listed."""
        return self.instruments.get(symbol)

    def quote(self, instrument: Instrument) -> Quote:
        """Latest quote."""
        return self.exchange.quote(instrument.symbol)

    def index(self, underlying: str) -> IndexPrice:
        """Spot index of an underlying."""
        return self.exchange.index(underlying)

    def depth(self, instrument: Instrument, limit: int | None = None) -> Depth:
        """Depth of an instrument, at most `limit` levels a side."""
        book = self.exchange.book(instrument.symbol)
        bids = tuple((level.price, level.amount) for level in book.bids)
        asks = tuple((level.price, level.amount) for level in book.asks)
        if limit is not None:
            bids, asks = bids[:limit], asks[:limit]
        return Depth(bids=bids, asks=asks)

    def greeks(self, instrument: Instrument, quote: Quote, now_ms: int) -> Greeks | None:
        """Black-76 greeks of an option at its mark IV; None for other instruments."""
        if instrument.kind is not Kind.OPTION or quote.mark_iv is None:
            return None
        assert instrument.strike is not None
        assert instrument.expiry_ms is not None
        tau = years_between(now_ms, instrument.expiry_ms)
        values = black76(
            quote.underlying_price,
            instrument.strike,
            tau,
            quote.mark_iv,
            instrument.option_type is OptionType.CALL,
        )
        return Greeks(
            delta=float(values.delta),
            gamma=float(values.gamma),
            vega=float(values.vega) / 100.0,
            theta=float(values.theta) / 365.0,
        )

    def option_delta(self, instrument: Instrument, quote: Quote, now_ms: int) -> float:
        """Premium-adjusted coin delta of one coin of a coin-settled option (Deribit's
        position delta); the plain Black-76 delta for linear options."""
        greeks = self.greeks(instrument, quote, now_ms)
        if greeks is None:
            return 0.0
        premium = quote.mark_price if instrument.is_inverse else 0.0
        return greeks.delta - premium

    def price_band(self, instrument: Instrument, quote: Quote) -> tuple[float, float]:
        """Lowest and highest limit price accepted now (Deribit's min_price/max_price)."""
        tick = instrument.tick_size if instrument.tick_size > 0 else 0.0
        if instrument.kind is Kind.OPTION:
            high = max(quote.mark_price * (1 + 10 * PRICE_BAND), quote.ask, tick * 10)
            return (tick, _ceil_tick(high, tick))
        low = quote.mark_price * (1 - PRICE_BAND)
        high = quote.mark_price * (1 + PRICE_BAND)
        return (_floor_tick(low, tick), _ceil_tick(high, tick))


def _floor_tick(price: float, tick: float) -> float:
    if tick <= 0:
        return price
    return round(math.floor(price / tick + 1e-9) * tick, 12)


def _ceil_tick(price: float, tick: float) -> float:
    if tick <= 0:
        return price
    return round(math.ceil(price / tick - 1e-9) * tick, 12)
