"""The synthetic market: quotes, index prices and depth of instruments at the current grid step.

Owns turning the paths of `hedgebot.venues.sim.paths` into venue data through
`hedgebot.venues.sim.pricing.InstrumentTable`: `Quote`s, `IndexPrice`s and `OrderBook`s at the
current step, and `series` (marks and best prices of one instrument over a range of steps at once,
so resting orders can be checked without stepping). Quotes are computed only for instruments
someone asks about, batched per request (one table and one Black-76 call per distinct list of
instruments), and cached for the current step. It must not know about orders or accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hedgebot.model.instruments import Instrument, InstrumentKey
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.venues.sim.book import OrderBook, synthetic_book
from hedgebot.venues.sim.paths import UnderlyingPath
from hedgebot.venues.sim.pricing import InstrumentTable
from hedgebot.venues.sim.settings import MarketSettings

FloatArray = NDArray[np.float64]
_MAX_TABLES = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkSeries:
    """Mark, best bid/ask and spot of one instrument over steps first_step.. (one per step)."""

    first_step: int
    mark: FloatArray
    bid: FloatArray
    ask: FloatArray
    spot: FloatArray


class SyntheticMarket:
    """Venue data of any instrument of the configured underlyings at the current grid step."""

    def __init__(self, *, venue: str, settings: MarketSettings) -> None:
        self.venue = venue
        self.settings = settings
        self._specs = {u.name: u for u in settings.underlyings}
        self._paths: dict[str, UnderlyingPath] = {}
        self._tables: dict[tuple[InstrumentKey, ...], InstrumentTable] = {}
        self._step = 0
        self._batches: dict[InstrumentTable, list[Quote]] = {}
        self._singles: dict[InstrumentKey, Quote] = {}

    @property
    def step(self) -> int:
        """The current grid step."""
        return self._step

    def step_at(self, timestamp_ms: int) -> int:
        """The grid step in force at `timestamp_ms` (the last one at or before it)."""
        return max(0, (timestamp_ms - self.settings.start_ms) // self.settings.step_ms)

    def time_of(self, step: int) -> int:
        """When grid step `step` starts, in epoch ms."""
        return self.settings.start_ms + step * self.settings.step_ms

    def seek(self, step: int) -> None:
        """Make `step` the current step (paths are generated as needed)."""
        if step != self._step:
            for path in self._paths.values():
                path.ensure(step)
            self._step = step
            self._batches.clear()
            self._singles.clear()

    def forget_before(self, step: int) -> None:
        """Let the paths drop steps before `step`: they will not be asked for again."""
        for path in self._paths.values():
            path.forget_before(step)

    def path(self, underlying: str) -> UnderlyingPath:
        """The path of one underlying (created on first use); ValueError if not configured."""
        path = self._paths.get(underlying)
        if path is None:
            path = UnderlyingPath(
                self.settings.underlying(underlying),
                base_seed=self.settings.seed,
                step_seconds=self.settings.step_seconds,
            )
            path.ensure(self._step)
            self._paths[underlying] = path
        return path

    def spot(self, underlying: str) -> float:
        """Spot of one underlying now."""
        return self.path(underlying).state(self._step)[0]

    def index(self, underlying: str) -> IndexPrice:
        """Index price of one underlying now."""
        return IndexPrice(
            venue=self.venue,
            underlying=underlying,
            price=self.spot(underlying),
            timestamp_ms=self.time_of(self._step),
        )

    def quote(self, instrument: Instrument) -> Quote:
        """Quote of one instrument now (from a batch already priced this step if there is one)."""
        key = instrument.key
        single = self._singles.get(key)
        if single is not None:
            return single
        for table, quotes in self._batches.items():
            position = table.positions.get(key)
            if position is not None:
                return quotes[position]
        single = self._singles[key] = self._price_now(self.table((instrument,)))[0]
        return single

    def quotes(self, instruments: Sequence[Instrument]) -> list[Quote]:
        """Quotes of several instruments now, priced together."""
        return self.table_quotes(self.table(instruments))

    def table(self, instruments: Sequence[Instrument]) -> InstrumentTable:
        """A pricing table of some instruments, for callers asking for the same ones often."""
        keys = tuple(i.key for i in instruments)
        table = self._tables.get(keys)
        if table is None:
            if len(self._tables) >= _MAX_TABLES:
                self._tables.clear()
            for instrument in instruments:
                self.path(instrument.underlying)
            table = InstrumentTable(
                instruments,
                specs=self._specs,
                book=self.settings.book,
                funding_cap=self.settings.funding_cap,
            )
            self._tables[keys] = table
        return table

    def table_quotes(self, table: InstrumentTable) -> list[Quote]:
        """Quotes of a table's instruments now (priced once per step)."""
        quotes = self._batches.get(table)
        if quotes is None:
            quotes = self._batches[table] = self._price_now(table)
        return quotes

    def book(self, instrument: Instrument) -> OrderBook:
        """Depth of one instrument now."""
        quote = self.quote(instrument)
        return synthetic_book(
            instrument,
            bid=quote.bid,
            ask=quote.ask,
            mark=quote.mark_price,
            spot=self.spot(instrument.underlying),
            settings=self.settings.book,
            timestamp_ms=quote.timestamp_ms,
        )

    def series(self, instrument: Instrument, first: int, last: int) -> MarkSeries:
        """Marks and best prices of one instrument at steps first..last, vectorised."""
        path = self.path(instrument.underlying)
        path.ensure(last)
        steps = np.arange(first, last + 1)
        times = (self.settings.start_ms + steps * self.settings.step_ms).astype(np.float64)
        spot = path.spot(first, last)
        marks = self.table((instrument,)).price(
            spot=spot,
            vol=path.vol(first, last),
            premium=path.premium(first, last),
            times_ms=times,
        )
        return MarkSeries(
            first_step=first, mark=marks.mark, bid=marks.bid, ask=marks.ask, spot=spot
        )

    def _price_now(self, table: InstrumentTable) -> list[Quote]:
        step = self._step
        states = np.array([self.path(u).state(step) for u in table.underlyings])
        spot, vol, premium = states[table.underlying_index].T
        timestamp = self.time_of(step)
        marks = table.price(
            spot=spot, vol=vol, premium=premium, times_ms=np.array([float(timestamp)])
        )
        return [
            Quote(
                key=key,
                timestamp_ms=timestamp,
                bid=bid,
                ask=ask,
                mark_price=mark,
                underlying_price=underlying,
                mark_iv=iv if is_option else None,
                funding_rate_8h=funding if is_perpetual else None,
            )
            for key, is_option, is_perpetual, bid, ask, mark, underlying, iv, funding in zip(
                table.keys,
                table.is_option,
                table.is_perpetual,
                marks.bid.tolist(),
                marks.ask.tolist(),
                marks.mark.tolist(),
                marks.underlying_price.tolist(),
                marks.iv.tolist(),
                marks.funding.tolist(),
                strict=True,
            )
        ]
