"""The simulator runs hours of simulated trading in seconds."""

from __future__ import annotations

import asyncio
import time

import pytest

from hedgebot.clock import SimulatedClock
from hedgebot.model.account import AccountSnapshot
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.model.orders import Fill, OrderRequest, OrderUpdate, Side
from hedgebot.venues.sim import AccountSeed, MarketSettings, SimulatedExchange

SPOTS = {"BTC": 60_000, "ETH": 3_000, "SOL": 150}


def _symbols() -> list[str]:
    symbols = []
    for underlying, spot in SPOTS.items():
        symbols += [f"{underlying}-PERPETUAL", f"{underlying}_USDC-PERPETUAL"]
        symbols += [f"{underlying}-30JAN26", f"{underlying}-27MAR26"]
        for moneyness in (0.9, 1.0, 1.1):
            strike = round(spot * moneyness)
            symbols += [f"{underlying}-30JAN26-{strike}-C", f"{underlying}-30JAN26-{strike}-P"]
    return symbols


class CountingSink:
    """Counts market and account events and answers nothing."""

    def __init__(self) -> None:
        self.quotes = 0
        self.snapshots = 0
        self.fills = 0
        self.ready = asyncio.Event()

    def on_quote(self, quote: Quote) -> None:
        self.quotes += 1

    def on_index(self, index: IndexPrice) -> None:
        pass

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        self.ready.set()

    def on_account(self, snapshot: AccountSnapshot) -> None:
        self.snapshots += 1

    def on_order(self, update: OrderUpdate) -> None:
        pass

    def on_fill(self, fill: Fill) -> None:
        self.fills += 1


@pytest.mark.slow
async def test_six_hours_of_thirty_streamed_instruments_take_seconds() -> None:
    """Six simulated hours at 1-second steps, 3 underlyings × 10 instruments all streamed, an
    account streamed and a hedge order every minute, take well under 20 s of real time
    (measured about 4 s on a busy 2-core machine)."""
    symbols = _symbols()
    settings = MarketSettings()
    clock = SimulatedClock(settings.start_ms)
    seed = AccountSeed(
        collateral={"BTC": 5.0},
        positions=[("BTC-30JAN26-60000-C", -2.0, 0.0), ("BTC-PERPETUAL", 50_000, 0.0)],
    )
    exchange = SimulatedExchange(
        venue="sim", clock=clock, market=settings, accounts={"acc": seed}, symbols=symbols
    )
    market_sink, account_sink = CountingSink(), CountingSink()
    keys = [InstrumentKey("sim", s) for s in symbols]
    streams = [
        asyncio.create_task(exchange.stream(keys, market_sink)),
        asyncio.create_task(exchange.broker("acc").stream(account_sink)),
    ]
    await asyncio.wait_for(market_sink.ready.wait(), timeout=5)
    broker = exchange.broker("acc")
    started = time.perf_counter()
    for second in range(6 * 3600):
        if second % 60 == 0:
            quote = exchange.quote("BTC-PERPETUAL")
            side = Side.BUY if (second // 60) % 2 else Side.SELL
            price = quote.ask if side is Side.BUY else quote.bid
            order = OrderRequest(
                client_id=f"h{second}",
                account="acc",
                key=quote.key,
                side=side,
                amount=1000,
                limit_price=price,
            )
            await broker.submit(order)
        clock.advance(1)
    elapsed = time.perf_counter() - started
    for stream in streams:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    assert market_sink.quotes == len(symbols) * (6 * 3600 + 1)
    assert account_sink.fills >= 6 * 60
    assert elapsed < 20, f"six simulated hours took {elapsed:.1f} s"
