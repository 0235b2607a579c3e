"""Trades a stream drops are fetched by order over REST: the journal ends up with every fill
the venue made for our orders, exactly once, whatever the stream delivered."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hedgebot.app import Runtime
from hedgebot.model.account import AccountSnapshot
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import Fill, OrderRequest, OrderUpdate
from hedgebot.venue_wiring import VenueHooks
from hedgebot.venues.ports import AccountSink, Broker
from tests.support.daemon_harness import settings_for


class TradeDroppingSink:
    """Passes everything on except fills (a websocket trade stream that loses every event)."""

    def __init__(self, inner: AccountSink) -> None:
        self._inner = inner
        self.dropped = 0

    def on_account(self, snapshot: AccountSnapshot) -> None:
        self._inner.on_account(snapshot)

    def on_order(self, update: OrderUpdate) -> None:
        self._inner.on_order(update)

    def on_fill(self, fill: Fill) -> None:
        self.dropped += 1


class TradeDroppingBroker:
    """A real broker whose stream never delivers a fill."""

    def __init__(self, inner: Broker) -> None:
        self._inner = inner
        self.account = inner.account
        self.venue = inner.venue
        self.sinks: list[TradeDroppingSink] = []

    async def stream(self, sink: AccountSink) -> None:
        dropping = TradeDroppingSink(sink)
        self.sinks.append(dropping)
        await self._inner.stream(dropping)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def fills_of(self, client_id: str, key: InstrumentKey) -> Sequence[Fill]:
        return await self._inner.fills_of(client_id, key)

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        return await self._inner.submit(order)


def test_fills_the_stream_dropped_are_journaled_once_from_rest(tmp_path: Path) -> None:
    """With a stream that loses every trade, each filled hedge order's trades still reach the
    journal (by order, over REST), each once, matching the venue's own fills."""
    dropping: list[TradeDroppingBroker] = []

    def drop_trades(broker: Broker) -> Broker:
        dropping.append(TradeDroppingBroker(broker))
        return dropping[-1]

    hooks = VenueHooks(broker=drop_trades)
    runtime = Runtime(settings_for(tmp_path), live=False, observers=[], hooks=hooks)
    stop_at = runtime.clock.now_ms() + 1800 * 1000
    asyncio.run(runtime.run(asyncio.Event(), stop_at_ms=stop_at))
    (broker,) = dropping  # the one account's broker, as the daemon used it
    assert sum(s.dropped for s in broker.sinks) > 0, "the stream never tried to deliver a fill"
    venue = {
        f.trade_id: (f.client_id, f.amount)
        for f in asyncio.run(broker.fills_since(0))
        if f.client_id.startswith("hb")
    }
    with sqlite3.connect(tmp_path / "journal-paper.sqlite") as db:
        journal = {
            t: (c, a) for t, c, a in db.execute("SELECT trade_id, client_id, amount FROM fills")
        }
    assert venue, "no hedge was filled: the test would prove nothing"
    assert journal == venue
