"""Order entry and account streams over a `Ledger`: the `Broker` side of the sim and paper venues.

Owns `Desk` (one ledger, the clock that stamps its calls, and the account sinks its events go
to) and `LedgerBroker` (one account of a desk, implementing `hedgebot.venues.ports.Broker`). Events
are pushed synchronously: after each submit or cancel, and whenever the venue driving the ledger
(`SimulatedExchange`, `PaperExchange`) calls `publish`. An account with any event gets a fresh
snapshot pushed after its order and fill events. It must not move prices or match orders itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import structlog

from hedgebot.clock import Clock
from hedgebot.model.account import AccountSnapshot
from hedgebot.model.errors import OrderRejected
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import Fill, OrderRequest, OrderStatus, OrderUpdate
from hedgebot.venues.ports import AccountSink
from hedgebot.venues.sim.ledger import Ledger

_log = structlog.get_logger(__name__)


class Desk:
    """A ledger's order entry, timed by a clock, with the sinks streaming each account."""

    def __init__(self, *, ledger: Ledger, clock: Clock) -> None:
        self.ledger = ledger
        self._clock = clock
        self._sinks: dict[str, list[AccountSink]] = {}

    @property
    def venue(self) -> str:
        """The venue the ledger belongs to."""
        return self.ledger.venue

    def broker(self, account: str) -> LedgerBroker:
        """A `Broker` for one account; ValueError if the ledger has no such account."""
        if account not in self.ledger.accounts.names:
            raise ValueError(f"{self.venue}: unknown account {account!r}")
        return LedgerBroker(desk=self, account=account)

    def submit(self, order: OrderRequest) -> OrderUpdate:
        """Place an order now; raises OrderRejected when the venue refuses it."""
        update = self.ledger.submit(order, self._clock.now_ms())
        self.publish()
        if update.status is OrderStatus.REJECTED:
            _log.debug("sim.order.rejected", client_id=order.client_id, reason=update.reason)
            raise OrderRejected(f"{order.client_id}: {update.reason}")
        return update

    def cancel(self, client_id: str) -> None:
        """Cancel an order now (no error if it is already gone)."""
        self.ledger.cancel(client_id, self._clock.now_ms())
        self.publish()

    def snapshot(self, account: str) -> AccountSnapshot:
        """Positions, collateral and margin of an account now."""
        return self.ledger.accounts.snapshot(account, self._clock.now_ms())

    def subscribe(self, account: str, sink: AccountSink) -> None:
        """Stream an account's events into `sink`."""
        self._sinks.setdefault(account, []).append(sink)

    def unsubscribe(self, account: str, sink: AccountSink) -> None:
        """Stop streaming into `sink`."""
        sinks = self._sinks.get(account, [])
        if sink in sinks:
            sinks.remove(sink)

    def publish(self) -> None:
        """Push the ledger's pending events to the sinks of their accounts."""
        changed: dict[str, None] = {}
        for event in self.ledger.drain_events():
            changed[event.account] = None
            for sink in self._sinks.get(event.account, ()):
                if event.order is not None:
                    sink.on_order(event.order)
                if event.fill is not None:
                    sink.on_fill(event.fill)
        self.push_snapshots(changed)

    def push_snapshots(self, accounts: Iterable[str] | None = None) -> None:
        """Push a fresh snapshot to the sinks of `accounts` (every streamed account if None)."""
        names = list(self._sinks) if accounts is None else list(accounts)
        for account in names:
            sinks = self._sinks.get(account)
            if sinks:
                snapshot = self.snapshot(account)
                for sink in sinks:
                    sink.on_account(snapshot)


class LedgerBroker:
    """One account of a `Desk` as a `hedgebot.venues.ports.Broker`."""

    def __init__(self, *, desk: Desk, account: str) -> None:
        self.account = account
        self.venue = desk.venue
        self._desk = desk

    async def stream(self, sink: AccountSink) -> None:
        """Push the account's snapshot now, then its events as they happen, until cancelled."""
        self._desk.subscribe(self.account, sink)
        try:
            sink.on_account(self._desk.snapshot(self.account))
            await asyncio.get_running_loop().create_future()
        finally:
            self._desk.unsubscribe(self.account, sink)

    async def snapshot(self) -> AccountSnapshot:
        """Positions, collateral and margin now."""
        return self._desk.snapshot(self.account)

    async def open_orders(self) -> Sequence[OrderUpdate]:
        """This account's orders that can still fill."""
        return self._desk.ledger.open_orders(self.account)

    async def fills_since(self, timestamp_ms: int) -> Sequence[Fill]:
        """This account's fills at or after `timestamp_ms`."""
        return self._desk.ledger.fills_since(timestamp_ms, self.account)

    async def fills_of(self, client_id: str, key: InstrumentKey) -> Sequence[Fill]:
        """Every fill of one of this account's orders."""
        fills = self._desk.ledger.fills_since(0, self.account)
        return [f for f in fills if f.client_id == client_id and f.key == key]

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        """Place a limit order: the venue's OPEN ack, or OrderRejected."""
        if order.account != self.account:
            raise OrderRejected(
                f"{order.client_id}: order of {order.account!r} sent to {self.account!r}"
            )
        return self._desk.submit(order)

    async def cancel(self, client_id: str, key: InstrumentKey) -> None:
        """Cancel one of this account's orders (no error if it is gone or unknown)."""
        if self._desk.ledger.lookup(client_id, self.account) is not None:
            self._desk.cancel(client_id)

    async def lookup(self, client_id: str, key: InstrumentKey) -> OrderUpdate | None:
        """One of this account's orders by client id, whatever its state; None if never seen."""
        return self._desk.ledger.lookup(client_id, self.account)
