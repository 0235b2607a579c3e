"""The built-in simulated exchange: synthetic market + matching ledger, driven by a SimulatedClock.

Owns the composition and the time loop. On every clock advance it replays, in time order, what
happened since the previous one: orders going live after their latency (matched as takers),
resting orders crossed by the market at any grid step in between (filled as makers), funding
every `funding_interval_hours` (epoch-aligned, 00/08/16 UTC by default) and expiries (settled at
spot); then it liquidates accounts whose maintenance margin has reached equity at the new marks
(`Ledger.liquidate_due`). Then it pushes the new quotes and index prices of streamed instruments,
order and fill events, and account snapshots, synchronously, to the registered sinks.

`SimulatedExchange` is a `hedgebot.venues.ports.MarketFeed`; `broker(account)` gives
`hedgebot.venues.ports.Broker`s. `quote`, `index`, `book` and `ledger` are synchronous accessors for
the composition root and a local exchange server. It must not sleep or read the wall clock.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import structlog

from hedgebot.clock import SimulatedClock
from hedgebot.model.instruments import Instrument, InstrumentKey, Kind
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.venues.ports import MarketSink
from hedgebot.venues.sim.accounts import AccountSeed
from hedgebot.venues.sim.book import OrderBook, synthetic_book
from hedgebot.venues.sim.brokerage import Desk, LedgerBroker
from hedgebot.venues.sim.catalog import sim_instrument
from hedgebot.venues.sim.ledger import Ledger
from hedgebot.venues.sim.market import MarkSeries, SyntheticMarket
from hedgebot.venues.sim.pricing import InstrumentTable
from hedgebot.venues.sim.settings import MarketSettings

_log = structlog.get_logger(__name__)
_PRICE_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class _Subscription:
    table: InstrumentTable
    underlyings: tuple[str, ...]
    sink: MarketSink


class SimulatedExchange:
    """A deterministic in-process venue: quotes, depth, order matching, margin and funding."""

    def __init__(
        self,
        *,
        venue: str,
        clock: SimulatedClock,
        market: MarketSettings,
        accounts: Mapping[str, AccountSeed],
        symbols: Sequence[str],
        id_prefix: str = "",
    ) -> None:
        now_ms = clock.now_ms()
        if now_ms < market.start_ms:
            raise ValueError(f"clock at {now_ms} is before the market's start_ms {market.start_ms}")
        self.venue = venue
        self.settings = market
        self._clock = clock
        self._instruments: dict[str, Instrument] = {}
        self._expiries: list[tuple[int, str]] = []
        self._listed = tuple(self._resolve(InstrumentKey(venue, s)) for s in symbols)
        self.market = SyntheticMarket(venue=venue, settings=market)
        for underlying in sorted({i.underlying for i in self._listed}):
            self.market.path(underlying)
        self.market.seek(self.market.step_at(now_ms))
        self.ledger = Ledger(
            venue=venue,
            instruments=self._resolve,
            marks=self.market.quote,
            fees=market.fees,
            margin=market.margin,
            latency_ms=market.latency_ms,
            accounts=accounts,
            id_prefix=id_prefix,
        )
        self._desk = Desk(ledger=self.ledger, clock=clock)
        self._subscriptions: dict[object, _Subscription] = {}
        self._processed_ms = now_ms
        self._published_step = self.market.step
        interval_ms = round(market.funding_interval_hours * 3_600_000)
        self._funding_interval_ms = interval_ms
        self._next_funding_ms = (now_ms // interval_ms + 1) * interval_ms
        self._push_interval_ms = round(market.account_push_seconds * 1000)
        self._next_push_ms = now_ms + self._push_interval_ms
        clock.add_listener(self._on_time)

    # --- MarketFeed ---------------------------------------------------------------------------

    async def instruments(self) -> Sequence[Instrument]:
        """The instruments the exchange was configured to list."""
        return self._listed

    async def stream(self, keys: Sequence[InstrumentKey], sink: MarketSink) -> None:
        """Push quotes of `keys` and their index prices now and on every step, until cancelled."""
        instruments = [self._resolve(k) for k in keys if k.venue == self.venue]
        underlyings = tuple(sorted({i.underlying for i in instruments}))
        token = object()
        self._subscriptions[token] = _Subscription(
            self._live_table(instruments, self._processed_ms), underlyings, sink
        )
        try:
            sink.on_feed_status(self.venue, connected=True, reason="simulated")
            self._push_market(self._subscriptions[token])
            await asyncio.get_running_loop().create_future()
        finally:
            del self._subscriptions[token]

    # --- brokers and accessors ----------------------------------------------------------------

    def broker(self, account: str) -> LedgerBroker:
        """The `Broker` of one seeded account."""
        return self._desk.broker(account)

    def instrument(self, symbol: str) -> Instrument:
        """Any instrument the catalog can parse; ValueError otherwise."""
        return self._resolve(InstrumentKey(self.venue, symbol))

    def quote(self, symbol: str) -> Quote:
        """Quote of an instrument now."""
        return self.market.quote(self.instrument(symbol))

    def index(self, underlying: str) -> IndexPrice:
        """Index price of an underlying now."""
        return self.market.index(underlying)

    def book(self, symbol: str) -> OrderBook:
        """Depth of an instrument now (bids and asks best first)."""
        return self.market.book(self.instrument(symbol))

    # --- the time loop ------------------------------------------------------------------------

    def _on_time(self, now_ms: int) -> None:
        cursor = self._processed_ms
        while True:
            event_ms = self._next_event_ms(cursor, now_ms)
            crossing_ms = self._fill_first_crossing(cursor, event_ms or now_ms)
            if crossing_ms is not None:
                cursor = crossing_ms
                continue
            if event_ms is None:
                break
            self._run_events(event_ms)
            cursor = event_ms
        self.market.seek(self.market.step_at(now_ms))
        self.market.forget_before(self.market.step)
        self.ledger.liquidate_due(now_ms)
        self._processed_ms = now_ms
        self._publish(now_ms)

    def _next_event_ms(self, cursor: int, now_ms: int) -> int | None:
        candidates = [self._next_funding_ms]
        if self._expiries:
            candidates.append(self._expiries[0][0])
        activation = self.ledger.next_activation_ms()
        if activation is not None:
            candidates.append(max(activation, cursor))
        earliest = min(candidates)
        return earliest if earliest <= now_ms else None

    def _run_events(self, event_ms: int) -> None:
        self.market.seek(self.market.step_at(event_ms))
        while self._expiries and self._expiries[0][0] <= event_ms:
            self._expire(self._instruments[heapq.heappop(self._expiries)[1]], event_ms)
        if self._next_funding_ms <= event_ms:
            self._fund(event_ms)
            self._next_funding_ms += self._funding_interval_ms
        self.ledger.activate_due(event_ms, self.market.book)

    def _fill_first_crossing(self, cursor: int, horizon: int) -> int | None:
        """Fill resting orders at the first grid step in (cursor, horizon] whose book crosses
        them; return that step's time, or None if none does."""
        first, last = self.market.step_at(cursor) + 1, self.market.step_at(horizon)
        limits = self.ledger.resting_limits()
        if first > last or not limits:
            return None
        crossings: list[tuple[int, Instrument, MarkSeries]] = []
        for key, (buy_limit, sell_limit) in limits.items():
            instrument = self._instruments[key.symbol]
            series = self.market.series(instrument, first, last)
            crossed = np.zeros(len(series.mark), dtype=bool)
            if buy_limit is not None:
                crossed |= series.ask <= buy_limit + _PRICE_EPSILON
            if sell_limit is not None:
                crossed |= (series.bid >= sell_limit - _PRICE_EPSILON) & (series.bid > 0)
            if crossed.any():
                crossings.append((int(np.argmax(crossed)), instrument, series))
        if not crossings:
            return None
        index = min(c[0] for c in crossings)
        step = first + index
        when = self.market.time_of(step)
        self.market.seek(step)
        for offset, instrument, series in crossings:
            if offset == index:
                self.ledger.match_resting(self._series_book(instrument, series, index, when), when)
        return when

    def _series_book(
        self, instrument: Instrument, series: MarkSeries, index: int, when: int
    ) -> OrderBook:
        return synthetic_book(
            instrument,
            bid=float(series.bid[index]),
            ask=float(series.ask[index]),
            mark=float(series.mark[index]),
            spot=float(series.spot[index]),
            settings=self.settings.book,
            timestamp_ms=when,
        )

    def _fund(self, now_ms: int) -> None:
        scale = self.settings.funding_interval_hours / 8.0
        for instrument in self.ledger.accounts.held_instruments():
            if instrument.kind is Kind.PERPETUAL:
                quote = self.market.quote(instrument)
                rate = (quote.funding_rate_8h or 0.0) * scale
                self.ledger.apply_funding(
                    instrument, rate=rate, mark=quote.mark_price, now_ms=now_ms
                )

    def _expire(self, instrument: Instrument, now_ms: int) -> None:
        price = self.market.spot(instrument.underlying)
        self.ledger.expire(instrument, settlement_price=price, now_ms=now_ms)
        for token, old in self._subscriptions.items():
            table = self._live_table(old.table.instruments, now_ms)
            self._subscriptions[token] = _Subscription(table, old.underlyings, old.sink)
        _log.info("sim.instrument.expired", symbol=instrument.symbol, settlement_price=price)

    # --- publication --------------------------------------------------------------------------

    def _publish(self, now_ms: int) -> None:
        if self.market.step != self._published_step:
            self._published_step = self.market.step
            for subscription in list(self._subscriptions.values()):
                self._push_market(subscription)
        self._desk.publish()
        if now_ms >= self._next_push_ms:
            self._desk.push_snapshots()
            self._next_push_ms = now_ms + self._push_interval_ms

    def _push_market(self, subscription: _Subscription) -> None:
        sink = subscription.sink
        for quote in self.market.table_quotes(subscription.table):
            sink.on_quote(quote)
        for underlying in subscription.underlyings:
            sink.on_index(self.market.index(underlying))

    def _live_table(self, instruments: Sequence[Instrument], now_ms: int) -> InstrumentTable:
        """A pricing table of the instruments not expired at `now_ms`."""
        return self.market.table(
            [i for i in instruments if i.expiry_ms is None or i.expiry_ms > now_ms]
        )

    def _resolve(self, key: InstrumentKey) -> Instrument:
        if key.venue != self.venue:
            raise ValueError(f"{key} is not on venue {self.venue!r}")
        instrument = self._instruments.get(key.symbol)
        if instrument is None:
            instrument = sim_instrument(
                self.venue, key.symbol, underlyings=self.settings.underlyings
            )
            self._instruments[key.symbol] = instrument
            if instrument.expiry_ms is not None and instrument.expiry_ms > self._clock.now_ms():
                heapq.heappush(self._expiries, (instrument.expiry_ms, key.symbol))
        return instrument
