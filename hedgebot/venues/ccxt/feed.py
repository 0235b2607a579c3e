"""`CcxtMarketFeed`: the `hedgebot.venues.ports.MarketFeed` of a real venue through ccxt.pro.

Owns the market-data loop of one venue. On Deribit the instruments are subscribed in batches:
one ``watch_tickers`` (one ``public/subscribe`` carrying up to ``BATCH_CHANNELS`` ticker channels,
well under Deribit's 32 KiB frame limit) per batch, perpetuals and futures in batches of their
own, so a 1,000-option book needs about ten subscribe requests instead of a thousand throttled
ones. ccxt resolves a batch's watch with one ticker and stores every ticker it parses in
``exchange.tickers``, so after each wake-up the batch publishes every ticker object it has not
published yet (those that arrived in the same burst included). Elsewhere there is one watch per
instrument (``watch_ticker``; ``watch_bids_asks`` on Binance, whose futures ticker stream has no
book).

Staleness is per socket, not per instrument: a watch silent for ``stale_after_s`` only counts
as a stall when the venue's whole feed has been silent that long (so a quiet option, or a batch
still being subscribed while others stream, never recycles the socket). ccxt has no background
reconnect and Deribit's receive loop stalls silently after an error frame (docs/venues.md), so a
stall closes the venue's websocket clients once (the next watch reconnects and resubscribes).
Network errors are retried with backoff; while the socket is down the batch's instruments are
polled over REST (``fetch_ticker``; at most ``REST_POLL_MAX`` per batch, perpetuals and futures
first, so a large option book does not exhaust the REST rate limit). Connection changes go to
``sink.on_feed_status``; malformed tickers are logged (``feed.bad_quote``) and dropped.

It must not trade, and no ccxt type or exception leaves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import structlog

from hedgebot.clock import Clock
from hedgebot.config import VenueSettings
from hedgebot.model.errors import BadVenueData, TransientVenueError
from hedgebot.model.instruments import Instrument, InstrumentKey, Kind
from hedgebot.venues.ccxt.errors import translate_error
from hedgebot.venues.ccxt.exchange_factory import close_exchange, create_exchange
from hedgebot.venues.ccxt.markets import MarketCatalog, VenueMarket
from hedgebot.venues.ccxt.quotes import index_from_ticker, quote_from_ticker
from hedgebot.venues.ccxt.retry import Backoff, is_own_cancellation, retry_call
from hedgebot.venues.ports import MarketSink

log = structlog.get_logger(__name__)

BATCH_CHANNELS = 100
"""Ticker channels per Deribit ``public/subscribe`` (about 4 KB of JSON; the limit is 32 KiB)."""
REST_POLL_MAX = 20
"""Instruments of one batch polled over REST while its socket is down."""


class CcxtMarketFeed:
    """Quotes and index prices of one venue over ccxt.pro websockets, REST while they are down."""

    def __init__(
        self,
        *,
        venue: str,
        exchange: Any,
        clock: Clock,
        stale_after_s: float,
        backoff: Backoff | None = None,
        rest_poll_s: float = 2.0,
    ) -> None:
        self.venue = venue
        self._exchange = exchange
        self._exchange_id: str = exchange.id
        self._clock = clock
        self._stale_after_s = stale_after_s
        self._backoff = backoff or Backoff(first_s=0.5, cap_s=15.0)
        self._rest_poll_s = rest_poll_s
        self._catalog: MarketCatalog | None = None
        self._catalog_lock = asyncio.Lock()
        self._generation = 0
        self._recycle_lock = asyncio.Lock()
        self._connected: bool | None = None
        self._last_index_ms: dict[str, int] = {}
        self._last_heard_ms = clock.now_ms()

    @classmethod
    def from_settings(cls, venue: str, settings: VenueSettings, *, clock: Clock) -> CcxtMarketFeed:
        """A feed with its own credential-less ccxt instance built from the venue's settings."""
        exchange = create_exchange(settings, venue=venue, credentials=False)
        return cls(
            venue=venue, exchange=exchange, clock=clock, stale_after_s=settings.stale_after_s
        )

    async def catalog(self) -> MarketCatalog:
        """The venue's supported markets, loaded once (reads retried with backoff)."""
        async with self._catalog_lock:
            if self._catalog is None:
                await retry_call(
                    self._exchange.load_markets,
                    operation="load_markets",
                    clock=self._clock,
                    backoff=self._backoff,
                )
                self._catalog = MarketCatalog.from_ccxt(
                    self._exchange.markets,
                    venue=self.venue,
                    exchange_id=self._exchange_id,
                    precision_mode=int(self._exchange.precisionMode),
                )
                log.info("feed.markets_loaded", venue=self.venue, count=len(self._catalog))
            return self._catalog

    async def instruments(self) -> Sequence[Instrument]:
        """Every supported instrument of the venue."""
        return (await self.catalog()).instruments

    async def stream(self, keys: Sequence[InstrumentKey], sink: MarketSink) -> None:
        """Push quotes of `keys` and index prices into `sink` until cancelled."""
        catalog = await self.catalog()
        foreign = [str(k) for k in keys if k.venue != self.venue]
        if foreign:
            raise ValueError(f"{self.venue} feed asked for other venues' instruments: {foreign}")
        markets = [catalog.get(key.symbol) for key in keys]
        self._last_heard_ms = self._clock.now_ms()
        if not markets:
            # Nothing to quote on this venue (say, an options account that holds nothing yet,
            # hedged elsewhere): stay up as the contract says rather than end, which the
            # supervisor would take for a dead stream task (exit 70, again at every restart).
            self._report(sink, connected=True, reason="no instruments to stream")
            await asyncio.get_running_loop().create_future()
        async with asyncio.TaskGroup() as group:
            if self._exchange_id == "deribit":
                for batch in _batches(markets, BATCH_CHANNELS):
                    group.create_task(self._follow_batch(batch, sink))
            else:
                for market in markets:
                    group.create_task(self._follow(market, sink))

    async def close(self) -> None:
        """Release the websocket and HTTP resources of the feed's ccxt instance."""
        await close_exchange(self._exchange)

    async def _follow(self, market: VenueMarket, sink: MarketSink) -> None:
        failures = 0
        while True:
            generation = self._generation
            try:
                async with asyncio.timeout(self._stale_after_s):  # not wait_for: see _follow_batch
                    ticker = await self._watch(market)
            except TimeoutError:
                if self._socket_heard_recently():
                    continue
                self._report(
                    sink, connected=False, reason=f"stale: no data for {market.ccxt_symbol}"
                )
                await self._recycle(generation)
                await self._poll_rest([market], sink, duration_s=0.0)
                continue
            except asyncio.CancelledError:
                if is_own_cancellation():
                    raise
                error_text = "websocket closed"  # ccxt cancelled our watch while recycling
                wait = 0.0
            except Exception as exc:  # translated: no ccxt exception leaves the feed
                error = translate_error(exc)
                retry_after = error.retry_after if isinstance(error, TransientVenueError) else None
                error_text = str(error)
                wait = self._backoff.delay(failures, retry_after=retry_after)
                failures += 1
            else:
                failures = 0
                self._last_heard_ms = self._clock.now_ms()
                self._report(sink, connected=True, reason="streaming")
                self._publish(ticker, market, sink)
                continue
            self._report(sink, connected=False, reason=error_text)
            await self._poll_rest([market], sink, duration_s=wait)

    async def _follow_batch(self, markets: Sequence[VenueMarket], sink: MarketSink) -> None:
        """One batch of Deribit ticker channels, subscribed in one request."""
        symbols = [m.ccxt_symbol for m in markets]
        by_symbol = {m.ccxt_symbol: m for m in markets}
        published: dict[str, Any] = {}
        failures = 0
        while True:
            generation = self._generation
            try:
                # asyncio.timeout runs the watch in this task; Python 3.11's wait_for ran it in
                # another and returned its ticker when our cancellation landed in the same loop
                # turn (CPython gh-86296), so the loop went on streaming after being cancelled
                async with asyncio.timeout(self._stale_after_s):
                    woken = await self._exchange.watch_tickers(symbols)
            except TimeoutError:
                if self._socket_heard_recently():
                    continue  # quiet instruments, or still subscribing while the socket streams
                self._report(sink, connected=False, reason=f"stale: no data for {symbols[0]}")
                await self._recycle(generation)
                await self._poll_rest(markets, sink, duration_s=0.0)
                continue
            except asyncio.CancelledError:
                if is_own_cancellation():
                    raise
                error_text = "websocket closed"  # ccxt cancelled our watch while recycling
                wait = 0.0
            except Exception as exc:  # translated: no ccxt exception leaves the feed
                error = translate_error(exc)
                retry_after = error.retry_after if isinstance(error, TransientVenueError) else None
                error_text = str(error)
                wait = self._backoff.delay(failures, retry_after=retry_after)
                failures += 1
            else:
                failures = 0
                self._last_heard_ms = self._clock.now_ms()
                self._report(sink, connected=True, reason="streaming")
                self._publish_new(woken, by_symbol, published, sink)
                continue
            self._report(sink, connected=False, reason=error_text)
            await self._poll_rest(markets, sink, duration_s=wait)

    def _publish_new(
        self,
        woken: Any,
        by_symbol: dict[str, VenueMarket],
        published: dict[str, Any],
        sink: MarketSink,
    ) -> None:
        """Publish the ticker that woke the batch and any other it has not published yet."""
        if isinstance(woken, dict):
            for symbol, ticker in woken.items():
                market = by_symbol.get(symbol)
                if market is not None and published.get(symbol) is not ticker:
                    published[symbol] = ticker
                    self._publish(ticker, market, sink)
        latest = getattr(self._exchange, "tickers", None)
        if not isinstance(latest, dict):
            return
        for symbol, market in by_symbol.items():
            ticker = latest.get(symbol)
            if ticker is not None and published.get(symbol) is not ticker:
                published[symbol] = ticker
                self._publish(ticker, market, sink)

    def _socket_heard_recently(self) -> bool:
        """True while some watch of this venue received data within ``stale_after_s``."""
        return self._clock.now_ms() - self._last_heard_ms < self._stale_after_s * 1000

    async def _watch(self, market: VenueMarket) -> Any:
        if self._exchange_id.startswith("binance"):
            tickers = await self._exchange.watch_bids_asks([market.ccxt_symbol])
            return tickers[market.ccxt_symbol]
        return await self._exchange.watch_ticker(market.ccxt_symbol)

    async def _recycle(self, generation: int) -> None:
        """Close the websocket clients once per stall, however many watches noticed it."""
        async with self._recycle_lock:
            if generation != self._generation:
                return
            self._generation += 1
            log.warning("feed.recycling", venue=self.venue, generation=self._generation)
            try:
                await self._exchange.close_ws_clients()
            except Exception as exc:  # a half-dead socket may fail to close: it is dropped anyway
                log.warning(
                    "feed.recycle_failed", venue=self.venue, error=str(translate_error(exc))
                )

    async def _poll_rest(
        self, markets: Sequence[VenueMarket], sink: MarketSink, *, duration_s: float
    ) -> None:
        """Fetch the tickers over REST now (concurrently), then every ``rest_poll_s``, until
        ``duration_s`` has passed (one round when it is 0): the caller then watches again."""
        polled = sorted(markets, key=lambda m: m.instrument.kind is Kind.OPTION)[:REST_POLL_MAX]
        if duration_s <= 0:
            await self._fetch_round(polled, sink)
            return
        try:
            async with asyncio.timeout(duration_s):
                while True:
                    await self._fetch_round(polled, sink)
                    await self._clock.sleep(self._rest_poll_s)
        except TimeoutError:
            return

    async def _fetch_round(self, markets: Sequence[VenueMarket], sink: MarketSink) -> None:
        await asyncio.gather(*(self._fetch_one(market, sink) for market in markets))

    async def _fetch_one(self, market: VenueMarket, sink: MarketSink) -> None:
        try:
            ticker = await self._exchange.fetch_ticker(market.ccxt_symbol)
        except Exception as exc:  # the websocket retry decides what happens next
            log.warning(
                "feed.rest_failed",
                venue=self.venue,
                symbol=market.instrument.symbol,
                error=str(translate_error(exc)),
            )
        else:
            self._publish(ticker, market, sink)

    def _publish(self, ticker: Any, market: VenueMarket, sink: MarketSink) -> None:
        now_ms = self._clock.now_ms()
        try:
            quote = quote_from_ticker(ticker, market, exchange_id=self._exchange_id, now_ms=now_ms)
            index = index_from_ticker(ticker, market, venue=self.venue, now_ms=now_ms)
        except (BadVenueData, TypeError, AttributeError) as exc:
            log.warning(
                "feed.bad_quote", venue=self.venue, symbol=market.instrument.symbol, reason=str(exc)
            )
            return
        sink.on_quote(quote)
        if index is not None and index.timestamp_ms > self._last_index_ms.get(index.underlying, -1):
            self._last_index_ms[index.underlying] = index.timestamp_ms
            sink.on_index(index)

    def _report(self, sink: MarketSink, *, connected: bool, reason: str) -> None:
        if self._connected is connected:
            return
        event = "feed.connected" if connected else "feed.disconnected"
        if connected and self._connected is False:
            event = "feed.reconnected"
        self._connected = connected
        (log.info if connected else log.warning)(event, venue=self.venue, reason=reason)
        sink.on_feed_status(self.venue, connected=connected, reason=reason)


def _batches(markets: Sequence[VenueMarket], size: int) -> list[list[VenueMarket]]:
    """Subscription batches: perpetuals and futures first, options after, `size` at most each."""
    hedges = [m for m in markets if m.instrument.kind is not Kind.OPTION]
    options = [m for m in markets if m.instrument.kind is Kind.OPTION]
    return [
        group[start : start + size]
        for group in (hedges, options)
        for start in range(0, len(group), size)
    ]
