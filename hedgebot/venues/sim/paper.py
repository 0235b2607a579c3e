"""Paper trading: the simulator's matching ledger fed by any market feed (real quotes, replay).

Owns `PaperExchange`, a `hedgebot.venues.ports.MarketSink` that keeps the latest quote (and book,
when a feed has depth) of each instrument and drives a `Ledger` from them: on every market event it
activates orders whose latency has elapsed (as takers against the latest book), fills resting
orders the new book crosses (as makers at their limit), applies funding to perpetual positions
at each funding boundary (the latest quote's `funding_rate_8h`) and settles expired positions at
their underlying's latest index. Per-quote work does not grow with the book: expiries are only
looked at when the clock passes the next listed expiry, or when an index arrives while a passed
one still waits for its underlying's index; funding only at its boundary. Quotes without depth
get the synthetic depth of `hedgebot.venues.sim.book.book_from_quote`. `broker(account)` gives
`hedgebot.venues.ports.Broker`s.

Time comes from the given clock (a WallClock for live paper trading); nothing happens between
market events. It must not generate prices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hedgebot.clock import Clock
from hedgebot.core.margin_model import MarginRates
from hedgebot.model.instruments import Instrument, InstrumentKey, Kind
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.venues.sim.accounts import AccountSeed
from hedgebot.venues.sim.book import OrderBook, book_from_quote
from hedgebot.venues.sim.brokerage import Desk, LedgerBroker
from hedgebot.venues.sim.ledger import Ledger
from hedgebot.venues.sim.settings import BookSettings, FeeSettings

_MS_PER_HOUR = 3_600_000


class PaperExchange:
    """A paper venue: real market data in, simulated fills and accounts out."""

    def __init__(
        self,
        *,
        venue: str,
        clock: Clock,
        instruments: Sequence[Instrument],
        accounts: Mapping[str, AccountSeed],
        fees: FeeSettings | None = None,
        margin: MarginRates | None = None,
        book: BookSettings | None = None,
        latency_ms: int = 50,
        funding_interval_hours: float = 8.0,
        id_prefix: str = "",
    ) -> None:
        self.venue = venue
        self._clock = clock
        self._instruments = {i.symbol: i for i in instruments if i.venue == venue}
        self._book_settings = book or BookSettings()
        self._quotes: dict[InstrumentKey, Quote] = {}
        self._books: dict[InstrumentKey, OrderBook] = {}
        self._index: dict[str, IndexPrice] = {}
        self.ledger = Ledger(
            venue=venue,
            instruments=self._resolve,
            marks=self._mark,
            fees=fees or FeeSettings(),
            margin=margin or MarginRates(),
            latency_ms=latency_ms,
            accounts=accounts,
            id_prefix=id_prefix,
        )
        self._desk = Desk(ledger=self.ledger, clock=clock)
        self._funding_interval_ms = round(funding_interval_hours * _MS_PER_HOUR)
        now_ms = clock.now_ms()
        self._next_funding_ms = (
            now_ms // self._funding_interval_ms + 1
        ) * self._funding_interval_ms
        self._expiries = sorted(
            {i.expiry_ms for i in self._instruments.values() if i.expiry_ms is not None}
        )
        self._expiry_cursor = 0
        """Index in `_expiries` of the first expiry the clock has not passed yet."""
        self._settlement_pending = True
        """A passed expiry may still hold positions (a seeded book, or no index yet): the next
        index price retries."""

    def broker(self, account: str) -> LedgerBroker:
        """The `Broker` of one seeded account."""
        return self._desk.broker(account)

    # --- MarketSink ---------------------------------------------------------------------------

    def on_quote(self, quote: Quote) -> None:
        """A new quote: match against it (through synthetic depth unless a fresher book exists)."""
        if quote.key.venue != self.venue or quote.key.symbol not in self._instruments:
            return
        self._quotes[quote.key] = quote
        self._process(quote.key)

    def on_book(self, book: OrderBook) -> None:
        """New depth of one instrument: match against it."""
        if book.key.venue != self.venue or book.key.symbol not in self._instruments:
            return
        self._books[book.key] = book
        self._process(book.key)

    def on_index(self, index: IndexPrice) -> None:
        """A new index price: settles expired positions of that underlying."""
        if index.venue == self.venue:
            self._index[index.underlying] = index
            self._settle_expired(self._clock.now_ms(), retry_pending=True)
            self._desk.publish()

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        """Feed connectivity does not change the ledger: orders simply wait for data."""

    # --- internals ----------------------------------------------------------------------------

    def _process(self, key: InstrumentKey) -> None:
        now_ms = self._clock.now_ms()
        self._settle_expired(now_ms, retry_pending=False)
        self._fund_due(now_ms)
        self.ledger.activate_due(now_ms, self._book)
        if key in self.ledger.resting_limits():
            book = self._book(self._instruments[key.symbol])
            if book is not None:
                self.ledger.match_resting(book, now_ms)
        self._desk.publish()

    def _book(self, instrument: Instrument) -> OrderBook | None:
        book = self._books.get(instrument.key)
        quote = self._quotes.get(instrument.key)
        if book is not None and (quote is None or book.timestamp_ms >= quote.timestamp_ms):
            return book
        if quote is None:
            return None
        return book_from_quote(quote, instrument, self._book_settings)

    def _mark(self, instrument: Instrument) -> Quote | None:
        return self._quotes.get(instrument.key)

    def _fund_due(self, now_ms: int) -> None:
        while now_ms >= self._next_funding_ms:
            scale = self._funding_interval_ms / (8 * _MS_PER_HOUR)
            for instrument in self.ledger.accounts.held_instruments():
                quote = self._quotes.get(instrument.key)
                if instrument.kind is Kind.PERPETUAL and quote is not None:
                    rate = (quote.funding_rate_8h or 0.0) * scale
                    self.ledger.apply_funding(
                        instrument, rate=rate, mark=quote.mark_price, now_ms=self._next_funding_ms
                    )
            self._next_funding_ms += self._funding_interval_ms

    def _settle_expired(self, now_ms: int, *, retry_pending: bool) -> None:
        expiries = self._expiries
        passed = self._expiry_cursor
        while passed < len(expiries) and expiries[passed] <= now_ms:
            passed += 1
        if passed == self._expiry_cursor and not (retry_pending and self._settlement_pending):
            return
        self._expiry_cursor = passed
        pending = False
        for instrument in self.ledger.accounts.held_instruments():
            expiry = instrument.expiry_ms
            if expiry is None or expiry > now_ms:
                continue
            index = self._index.get(instrument.underlying)
            if index is None:
                pending = True
            else:
                self.ledger.expire(instrument, settlement_price=index.price, now_ms=now_ms)
        self._settlement_pending = pending

    def _resolve(self, key: InstrumentKey) -> Instrument:
        instrument = self._instruments.get(key.symbol) if key.venue == self.venue else None
        if instrument is None:
            raise ValueError(f"{key} is not listed on the paper venue {self.venue!r}")
        return instrument
