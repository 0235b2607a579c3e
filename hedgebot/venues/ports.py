"""Ports: the protocols the core's async shell talks to. Adapters implement them.

* `MarketFeed` streams quotes and index prices of a venue (simulated, ccxt websockets, replay).
* `Broker` is one trading account: its state (streamed and reconciled on demand) and order
  entry (the simulated exchange, the paper broker, or ccxt live).
* `MarketSink` / `AccountSink` receive events synchronously: adapters call them from their own
  tasks, and they only update latest-value state, so they never block.

No ccxt type or exception crosses these protocols: only hedgebot values and `hedgebot.model.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from hedgebot.model.account import AccountSnapshot
from hedgebot.model.instruments import Instrument, InstrumentKey
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.model.orders import Fill, OrderRequest, OrderUpdate


class MarketSink(Protocol):
    """Receives market events as they arrive."""

    def on_quote(self, quote: Quote) -> None:
        """A new quote for one instrument."""
        ...

    def on_index(self, index: IndexPrice) -> None:
        """A new index price for one underlying."""
        ...

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        """The feed of `venue` connected or dropped."""
        ...


class AccountSink(Protocol):
    """Receives account events as they arrive."""

    def on_account(self, snapshot: AccountSnapshot) -> None:
        """Positions, collateral and margin of an account changed."""
        ...

    def on_order(self, update: OrderUpdate) -> None:
        """One of our orders changed state."""
        ...

    def on_fill(self, fill: Fill) -> None:
        """One of our orders was (partly) filled."""
        ...


class MarketFeed(Protocol):
    """Market data of one venue."""

    venue: str

    async def instruments(self) -> Sequence[Instrument]:
        """Every instrument of this venue hedgebot may need (loaded once at start-up)."""
        ...

    async def stream(self, keys: Sequence[InstrumentKey], sink: MarketSink) -> None:
        """Push quotes of `keys` and index prices into `sink` until cancelled."""
        ...


class Broker(Protocol):
    """One trading account on one venue: state and order entry."""

    account: str
    venue: str

    async def stream(self, sink: AccountSink) -> None:
        """Push account, order and fill events into `sink` until cancelled."""
        ...

    async def snapshot(self) -> AccountSnapshot:
        """Fetch positions, collateral and margin now (the reconciliation read)."""
        ...

    async def open_orders(self) -> Sequence[OrderUpdate]:
        """Every open order of this account hedgebot placed."""
        ...

    async def fills_since(self, timestamp_ms: int) -> Sequence[Fill]:
        """Our fills at or after `timestamp_ms` (for reconciliation after a gap or a restart)."""
        ...

    async def fills_of(self, client_id: str, key: InstrumentKey) -> Sequence[Fill]:
        """Every fill of one of our orders, found by the order itself (not by time)."""
        ...

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        """Place a limit order. Raises OrderRejected, OrderOutcomeUnknown or VenueError."""
        ...

    async def cancel(self, client_id: str, key: InstrumentKey) -> None:
        """Cancel one of our orders (no error if it is already gone)."""
        ...

    async def lookup(self, client_id: str, key: InstrumentKey) -> OrderUpdate | None:
        """Find one of our orders by client id, open or not; None if the venue never saw it."""
        ...
