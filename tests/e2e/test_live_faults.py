"""After a dropped connection or a JSON-RPC error frame, the live daemon resubscribes,
reconciles over REST and does not hedge twice (local Deribit exchange, unmodified ccxt)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from hedgebot.app import Runtime
from hedgebot_localvenues.deribit.server import DeribitSimServer
from tests.support.live_harness import Watcher, daemon_settings, hedged_into_bands, local_exchange

Fault = Callable[[DeribitSimServer], Awaitable[object]]


async def _drop(server: DeribitSimServer) -> object:
    return await server.faults.drop_websockets()


async def _error_frame(server: DeribitSimServer) -> object:
    return await server.faults.send_error_frame()


@pytest.mark.parametrize("fault", [_drop, _error_frame], ids=["dropped-connection", "error-frame"])
async def test_recovers_from_a_websocket_fault_without_hedging_twice(
    tmp_path: Path, fault: Fault
) -> None:
    """The fault is noticed, streams come back, accounts are re-read over REST, and every
    order the exchange ever saw has a distinct label journaled exactly once."""
    async with local_exchange() as (server, _):
        runtime = Runtime(daemon_settings(server, tmp_path, mode="live"), live=True, observers=[])
        watcher = Watcher(hedged_into_bands)
        runtime.observers.append(watcher)
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop))
        try:
            await asyncio.wait_for(watcher.reached.wait(), 60)
            mark = server.requests.entries()[-1].seq
            faulted_at = runtime.clock.now_ms()
            await fault(server)
            state = runtime.state

            def recovered() -> bool:
                fresh_quote = max(state.quote_received_ms.values()) > faulted_at + 500
                fresh_account = state.account_received_ms.get("main", 0) > faulted_at + 500
                # quotes and accounts can be fresh from the REST catch-up before the new
                # sockets subscribe: wait for the resubscription too, not only fresh data
                resubscribed = any(
                    r.method.endswith("subscribe") for r in server.requests.entries(since_seq=mark)
                )
                return (
                    fresh_quote
                    and fresh_account
                    and resubscribed
                    and bool(watcher.views)
                    and (hedged_into_bands(watcher.views[-1]))
                )

            recovery = Watcher(lambda _: recovered())
            assert runtime.engine is not None
            runtime.engine.observers.append(recovery)
            await asyncio.wait_for(recovery.reached.wait(), 30)
            after = server.requests.entries(since_seq=mark)
        finally:
            stop.set()
            await task
        creates = [
            r
            for r in server.requests.order_entry_calls()
            if r.method in ("private/buy", "private/sell")
        ]
    methods_after = [r.method for r in after]
    assert "private/get_positions" in methods_after, "no REST reconciliation after the fault"
    assert any(m.endswith("subscribe") for m in methods_after), "streams were not resubscribed"
    assert state.feeds["deribit"].reconnects >= 1, "the feed never reported a reconnection"
    labels = [str(r.details.get("label")) for r in creates]
    assert len(labels) == len(set(labels))
    with sqlite3.connect(tmp_path / "journal-live.sqlite") as db:
        journaled = sorted(cid for (cid,) in db.execute("SELECT client_id FROM orders"))
        trade_ids = [t for (t,) in db.execute("SELECT trade_id FROM fills")]
    assert sorted(labels) == journaled
    assert len(trade_ids) == len(set(trade_ids))
