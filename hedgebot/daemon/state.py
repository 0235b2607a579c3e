"""Latest-value state: the newest quote of each instrument, index of each underlying and
snapshot of each account, with the local time each arrived.

Owns `BookState`, which implements both `MarketSink` and `AccountSink`: adapters call it
synchronously from their tasks; it only stores values (never a backlog of ticks) and forwards
order and fill events to the listener wired in by the composition root (the executor). The
hedge loop reads it; nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from hedgebot.clock import Clock
from hedgebot.core.risk import QuoteBoard
from hedgebot.core.settlement import state_read_ms
from hedgebot.model.account import AccountSnapshot
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.model.orders import Fill, OrderUpdate

log = structlog.get_logger("hedgebot.daemon.state")


class OrderListener:
    """Receives our order and fill events and account snapshot times (the executor)."""

    def on_order(self, update: OrderUpdate) -> None:
        """One of our orders changed."""

    def on_fill(self, fill: Fill) -> None:
        """One of our orders filled."""

    def on_account_snapshot(self, account: str, timestamp_ms: int) -> None:
        """A snapshot of `account` whose parts were all requested at or after `timestamp_ms`
        is now the one in the state."""


@dataclass(slots=True)
class FeedHealth:
    """Connection state of one venue's feed."""

    connected: bool = False
    since_ms: int = 0
    reason: str = ""
    reconnects: int = 0


@dataclass
class BookState:
    """The newest market and account values, and when they arrived (local clock)."""

    clock: Clock
    quotes: dict[InstrumentKey, Quote] = field(default_factory=QuoteBoard)
    quote_received_ms: dict[InstrumentKey, int] = field(default_factory=dict)
    index: dict[str, IndexPrice] = field(default_factory=dict)
    index_received_ms: dict[str, int] = field(default_factory=dict)
    venue_index: dict[tuple[str, str], IndexPrice] = field(default_factory=dict)
    """The newest index of each (venue, underlying): the basis between venues reads it."""
    accounts: dict[str, AccountSnapshot] = field(default_factory=dict)
    account_received_ms: dict[str, int] = field(default_factory=dict)
    feeds: dict[str, FeedHealth] = field(default_factory=dict)
    listener: OrderListener = field(default_factory=OrderListener)
    _amounts: dict[str, dict[InstrumentKey, float]] = field(default_factory=dict)
    on_change: Callable[[], None] = lambda: None
    """Called after every market or account update (wakes the hedge loop in live modes)."""

    def on_quote(self, quote: Quote) -> None:
        """Keep the newest quote per instrument; a crossed book is not a price to trade on."""
        if quote.crossed:
            log.warning(
                "feed.crossed_book", instrument=str(quote.key), bid=quote.bid, ask=quote.ask
            )
            return
        self.quotes[quote.key] = quote
        self.quote_received_ms[quote.key] = self.clock.now_ms()
        self.on_change()

    def on_index(self, index: IndexPrice) -> None:
        """Keep the newest index price per underlying."""
        self.index[index.underlying] = index
        self.venue_index[(index.venue, index.underlying)] = index
        self.index_received_ms[index.underlying] = self.clock.now_ms()
        self.on_change()

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        """Track connection state; count reconnects."""
        health = self.feeds.setdefault(venue, FeedHealth())
        if connected and not health.connected and health.since_ms:
            health.reconnects += 1
        health.connected, health.reason, health.since_ms = connected, reason, self.clock.now_ms()
        log.info("feed.status", venue=venue, connected=connected, reason=reason)

    def on_account(self, snapshot: AccountSnapshot) -> None:
        """Keep the newest snapshot of each account: newest by when its reads were *sent*
        (`settlement.state_read_ms`), so an older read that returns late never replaces it."""
        current = self.accounts.get(snapshot.account)
        if current is not None and state_read_ms(current) > state_read_ms(snapshot):
            return
        self.accounts[snapshot.account] = snapshot
        amounts: dict[InstrumentKey, float] = {}
        for position in snapshot.positions:
            amounts[position.key] = amounts.get(position.key, 0.0) + position.amount
        self._amounts[snapshot.account] = amounts
        self.account_received_ms[snapshot.account] = self.clock.now_ms()
        self.listener.on_account_snapshot(snapshot.account, state_read_ms(snapshot))
        self.on_change()

    def on_order(self, update: OrderUpdate) -> None:
        """Forward to the executor."""
        self.listener.on_order(update)

    def on_fill(self, fill: Fill) -> None:
        """Forward to the executor."""
        self.listener.on_fill(fill)
        self.on_change()

    def quote_age_s(self, key: InstrumentKey) -> float:
        """Seconds since the newest quote of `key` arrived (infinite if never)."""
        received = self.quote_received_ms.get(key)
        return float("inf") if received is None else (self.clock.now_ms() - received) / 1000

    def index_age_s(self, underlying: str) -> float:
        """Seconds since the newest index price of `underlying` arrived (infinite if never)."""
        received = self.index_received_ms.get(underlying)
        return float("inf") if received is None else (self.clock.now_ms() - received) / 1000

    def account_age_s(self, account: str) -> float:
        """Seconds since the newest snapshot of `account` arrived (infinite if never)."""
        received = self.account_received_ms.get(account)
        return float("inf") if received is None else (self.clock.now_ms() - received) / 1000

    def position(self, account: str, key: InstrumentKey) -> float:
        """Amount of `key` held by `account` in the newest snapshot (0 if none)."""
        return self._amounts.get(account, {}).get(key, 0.0)
