"""Sanity of market data before the hedge loop may use it: absurd quotes and index prices are
held back, so nothing trades on them.

Owns `SanityLimits`, the pure checks `quote_problem` and `index_problem`, and `SanityFilter`, a
`hedgebot.venues.ports.MarketSink` placed between the feeds and `BookState`. Adapters already refuse
what cannot be a price (NaN, zero, negative); this catches values that are well-formed but wrong:

* a crossed book (bid above ask);
* a mark that is not positive;
* an option quote without an implied volatility (greeks need one);
* a forward (the mark of a perpetual) further from the underlying's index than `max_basis`
  plus `max_basis_per_year` per year to expiry, in log terms: a 90% price gap, or an index far
  from every quote;
* an index further than `max_basis` from every perpetual of its underlying on its venue.

Quotes are compared with the newest index *received*, and an index with the newest perpetual
quotes received, refused or not, so a real move of both passes after one step while a wrong
value on either side holds the underlying until both agree again.

While the newest value of an instrument (or index) is refused, its previous value is withdrawn
from the state, so the loop holds that underlying ("cannot value the book") instead of trading
on a stale or wrong price; one ``market.bad_data`` event is reported through `notify` at the
start of each episode and one ``market.bad_data_cleared`` when a good value arrives (the runtime
journals, logs and alerts events). It must not trade, sleep or read the wall clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hedgebot.daemon.state import BookState
from hedgebot.model.events import EventSink, MarketBadData, MarketBadDataCleared
from hedgebot.model.instruments import Instrument, InstrumentKey, Kind, years_between
from hedgebot.model.market import IndexPrice, Quote


@dataclass(frozen=True, slots=True, kw_only=True)
class SanityLimits:
    """How far apart prices of one underlying may be before they are not believed."""

    max_basis: float = 0.10
    """|ln(forward / index)| allowed at expiry 0 (perpetuals): 10%."""
    max_basis_per_year: float = 0.50
    """Further allowance per year to expiry (dated futures and options trade at a basis)."""

    def __post_init__(self) -> None:
        for name in ("max_basis", "max_basis_per_year"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite non-negative number, not {value}")


def quote_problem(
    quote: Quote,
    *,
    instrument: Instrument | None,
    index: IndexPrice | None,
    now_ms: int,
    limits: SanityLimits,
) -> str | None:
    """Why `quote` must not be used (a sentence), or None when it is believable."""
    if quote.crossed:
        return f"crossed book: bid {quote.bid} above ask {quote.ask}"
    if not quote.mark_price > 0:
        return f"mark price {quote.mark_price} is not positive"
    if instrument is None:
        return None
    if instrument.kind is Kind.OPTION and quote.mark_iv is None:
        return "option quote without an implied volatility"
    if index is None:
        return None
    years = 0.0
    if instrument.expiry_ms is not None:
        years = max(0.0, years_between(now_ms, instrument.expiry_ms))
    allowed = limits.max_basis + limits.max_basis_per_year * years
    if abs(math.log(quote.underlying_price / index.price)) > allowed:
        return (
            f"forward {quote.underlying_price:g} is {_off(quote.underlying_price, index.price)} "
            f"from the {index.underlying} index {index.price:g} (allowed: {_band(allowed)})"
        )
    return None


def index_problem(
    index: IndexPrice, *, perpetual_marks: Mapping[InstrumentKey, float], limits: SanityLimits
) -> str | None:
    """Why `index` must not be used, or None: it must agree with at least one perpetual's mark
    (no perpetual quoted yet: nothing to compare with, it is believed)."""
    if not perpetual_marks:
        return None
    gaps = {key: abs(math.log(index.price / mark)) for key, mark in perpetual_marks.items()}
    nearest = min(gaps, key=gaps.__getitem__)
    if gaps[nearest] <= limits.max_basis:
        return None
    mark = perpetual_marks[nearest]
    return (
        f"index {index.price:g} is {_off(index.price, mark)} from the mark {mark:g} of "
        f"{nearest} (allowed: {_band(limits.max_basis)})"
    )


def _off(price: float, reference: float) -> str:
    return f"{price / reference - 1:+.0%}"


def _band(log_gap: float) -> str:
    return f"{-math.expm1(-log_gap):.0%} below to {math.expm1(log_gap):.0%} above"


class SanityFilter:
    """A `MarketSink` in front of `BookState` that passes believable data and withholds the rest."""

    def __init__(
        self,
        state: BookState,
        *,
        instruments: Mapping[InstrumentKey, Instrument],
        notify: EventSink,
        limits: SanityLimits | None = None,
    ) -> None:
        self._state = state
        self._instruments = instruments
        self._notify = notify
        self._limits = limits or SanityLimits()
        self._newest_index: dict[tuple[str, str], IndexPrice] = {}
        self._perpetual_marks: dict[tuple[str, str], dict[InstrumentKey, float]] = {}
        self._refused: dict[str, int] = {}
        """Source (instrument or index) -> values refused in its current bad episode."""

    @property
    def refusing(self) -> tuple[str, ...]:
        """Sources whose newest value is being withheld."""
        return tuple(sorted(self._refused))

    def on_quote(self, quote: Quote) -> None:
        """Pass a believable quote on; withhold an absurd one (and withdraw the previous one)."""
        instrument = self._instruments.get(quote.key)
        if instrument is not None and instrument.kind is Kind.PERPETUAL:
            marks = self._perpetual_marks.setdefault((quote.key.venue, instrument.underlying), {})
            if quote.mark_price > 0:
                marks[quote.key] = quote.mark_price
            else:
                marks.pop(quote.key, None)  # no mark: nothing an index could agree with
        index = None
        if instrument is not None:
            index = self._newest_index.get((quote.key.venue, instrument.underlying))
        problem = quote_problem(
            quote,
            instrument=instrument,
            index=index,
            now_ms=self._state.clock.now_ms(),
            limits=self._limits,
        )
        source = str(quote.key)
        if problem is not None:
            self._state.quotes.pop(quote.key, None)
            self._state.quote_received_ms.pop(quote.key, None)
            self._refuse(source, problem)
            return
        self._clear(source)
        self._state.on_quote(quote)

    def on_index(self, index: IndexPrice) -> None:
        """Pass a believable index on; withhold one no perpetual agrees with."""
        side = (index.venue, index.underlying)
        self._newest_index[side] = index
        problem = index_problem(
            index, perpetual_marks=self._perpetual_marks.get(side, {}), limits=self._limits
        )
        source = f"{index.venue}:{index.underlying} index"
        if problem is not None:
            if index.underlying in self._state.index:
                del self._state.index[index.underlying]
                self._state.index_received_ms.pop(index.underlying, None)
            self._refuse(source, problem)
            return
        self._clear(source)
        self._state.on_index(index)

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        """Connection changes go straight through."""
        self._state.on_feed_status(venue, connected=connected, reason=reason)

    def _refuse(self, source: str, problem: str) -> None:
        count = self._refused.get(source, 0)
        self._refused[source] = count + 1
        if count == 0:
            self._notify(MarketBadData(source=source, reason=problem))

    def _clear(self, source: str) -> None:
        refused = self._refused.pop(source, 0)
        if refused:
            self._notify(MarketBadDataCleared(source=source, refused=refused))
