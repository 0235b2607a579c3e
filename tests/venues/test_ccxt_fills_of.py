"""`CcxtBroker.fills_of` reads one order's trades by the order itself, through unmodified ccxt
against the local Deribit exchange: the REST path that recovers trades a stream dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hedgebot.clock import WallClock
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import OrderRequest, Side
from hedgebot.venues.ccxt import CcxtBroker
from tests.support.live_harness import daemon_settings, local_exchange


async def test_fills_of_returns_every_trade_of_one_order(tmp_path: Path) -> None:
    """An aggressive order walks the book; fills_of gives all its trades, with our client id,
    adding up to the filled amount, and nothing of another order."""
    async with local_exchange() as (server, _):
        venue = daemon_settings(server, tmp_path, mode="live").venues["deribit"]
        broker = await CcxtBroker.open(
            account="main",
            venue="deribit",
            settings=venue,
            clock=WallClock(),
            client_id_prefix="hbtest",
            symbols=("BTC-PERPETUAL",),
        )
        try:
            key = InstrumentKey("deribit", "BTC-PERPETUAL")
            mark = server.state.market.exchange.quote("BTC-PERPETUAL").mark_price
            for n, amount in ((1, 2_000_000.0), (2, 10.0)):
                await broker.submit(
                    OrderRequest(
                        client_id=f"hbtest{n}",
                        account="main",
                        key=key,
                        side=Side.BUY,
                        amount=amount,
                        limit_price=round(mark * 1.01 * 2) / 2,
                    )
                )
            async with asyncio.timeout(10):
                while True:  # wait on the exchange's own clock ticks, not on sleeps
                    found = await broker.lookup("hbtest1", key)
                    if found is not None and found.filled_amount > 0:
                        break
                    await server.state.next_tick()
            fills = await broker.fills_of("hbtest1", key)
            filled = (await broker.lookup("hbtest1", key) or found).filled_amount
        finally:
            await broker.close()
    assert len(fills) >= 2, "a large order should walk several levels"
    assert {f.client_id for f in fills} == {"hbtest1"}
    assert abs(sum(f.amount for f in fills) - filled) < 1e-6
