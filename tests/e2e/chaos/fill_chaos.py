"""Duplicated and reordered account events, injected between the daemon's brokers and its state.

The local exchange reports every fill once and in order, so these faults are made on the test
side without touching hedgebot: `hooks` gives the composition root's venue builder a broker hook
(`VenueHooks.broker`), so each live broker enters the finished venue graph as a `ChaoticBroker`
whose `stream` hands the real broker a `ChaoticSink` in front of the daemon's state. While
`ChaosSwitch.enabled`:

* DUP_FILLS: every fill is delivered, then delivered again `copies` times (at once, or
  `late_ms` apart: a late duplicate can arrive after the order settled);
* REORDER: order updates and fills are held for `hold_ms` and delivered newest first, each
  order's previous update is replayed after its newer one (a stale "open" after "filled"),
  and with `stale_snapshots` the previous account snapshot is replayed after each new one.

Everything else is passed straight through. It must not change what the venue did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hedgebot.model.account import AccountSnapshot
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import Fill, OrderRequest, OrderUpdate
from hedgebot.venue_wiring import VenueHooks
from hedgebot.venues.ports import AccountSink, Broker


@dataclass(slots=True)
class ChaosSwitch:
    """What to do to the events, and whether to do it now."""

    enabled: bool = False
    copies: int = 0
    late_ms: int = 0
    hold_ms: int = 0
    stale_snapshots: bool = False
    injected: dict[str, int] = field(default_factory=dict)
    """How many events were duplicated, held back or replayed (for the report)."""

    def count(self, what: str) -> None:
        """One more event of a kind was manipulated."""
        self.injected[what] = self.injected.get(what, 0) + 1


Event = Callable[[], None]


class ChaoticSink:
    """An `AccountSink` that duplicates and reorders events on the way to the daemon."""

    def __init__(self, sink: AccountSink, switch: ChaosSwitch) -> None:
        self._sink = sink
        self._switch = switch
        self._held: list[Event] = []
        self._flush: asyncio.TimerHandle | None = None
        self._last_update: dict[str, OrderUpdate] = {}
        self._last_snapshot: AccountSnapshot | None = None

    def on_account(self, snapshot: AccountSnapshot) -> None:
        """Deliver; maybe replay the previous snapshot after it."""
        previous, self._last_snapshot = self._last_snapshot, snapshot
        self._sink.on_account(snapshot)
        if self._switch.enabled and self._switch.stale_snapshots and previous is not None:
            self._switch.count("stale_snapshot")
            self._sink.on_account(previous)

    def on_order(self, update: OrderUpdate) -> None:
        """Deliver (or hold); replay the order's previous update after it."""
        previous = self._last_update.get(update.client_id)
        self._last_update[update.client_id] = update

        def deliver() -> None:
            self._sink.on_order(update)
            if previous is not None and self._switch.hold_ms:
                self._switch.count("stale_order_update")
                self._sink.on_order(previous)

        self._route(deliver)

    def on_fill(self, fill: Fill) -> None:
        """Deliver (or hold), then duplicate."""
        self._route(lambda: self._sink.on_fill(fill))
        if not self._switch.enabled:
            return
        loop = asyncio.get_running_loop()
        for copy in range(self._switch.copies):
            self._switch.count("duplicate_fill")
            if self._switch.late_ms:
                loop.call_later((copy + 1) * self._switch.late_ms / 1000, self._sink.on_fill, fill)
            else:
                self._sink.on_fill(fill)

    def _route(self, event: Event) -> None:
        if not (self._switch.enabled and self._switch.hold_ms):
            event()
            return
        self._switch.count("held")
        self._held.append(event)
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(self._switch.hold_ms / 1000, self.flush)

    def flush(self) -> None:
        """Deliver every held event, newest first."""
        held, self._held, self._flush = self._held, [], None
        for event in reversed(held):
            event()


class ChaoticBroker:
    """A `Broker` whose event stream passes through a `ChaoticSink`; everything else delegates."""

    def __init__(self, inner: Broker, switch: ChaosSwitch) -> None:
        self._inner = inner
        self._switch = switch
        self.account = inner.account
        self.venue = inner.venue

    async def stream(self, sink: AccountSink) -> None:
        """The real stream, through the chaos."""
        await self._inner.stream(ChaoticSink(sink, self._switch))

    async def snapshot(self) -> AccountSnapshot:
        """Delegated."""
        return await self._inner.snapshot()

    async def open_orders(self) -> Sequence[OrderUpdate]:
        """Delegated."""
        return await self._inner.open_orders()

    async def fills_since(self, timestamp_ms: int) -> Sequence[Fill]:
        """Delegated."""
        return await self._inner.fills_since(timestamp_ms)

    async def fills_of(self, client_id: str, key: InstrumentKey) -> Sequence[Fill]:
        """Delegated."""
        return await self._inner.fills_of(client_id, key)

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        """Delegated."""
        return await self._inner.submit(order)

    async def cancel(self, client_id: str, key: InstrumentKey) -> None:
        """Delegated."""
        await self._inner.cancel(client_id, key)

    async def lookup(self, client_id: str, key: InstrumentKey) -> OrderUpdate | None:
        """Delegated."""
        return await self._inner.lookup(client_id, key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def hooks(switch: ChaosSwitch) -> VenueHooks:
    """The venue builder's hook that puts every broker behind the chaos of `switch`."""
    return VenueHooks(broker=lambda broker: ChaoticBroker(broker, switch))
