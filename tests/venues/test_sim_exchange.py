"""The simulated exchange streams market data and account events like a venue would."""

from __future__ import annotations

import asyncio

import pytest

from hedgebot.clock import SimulatedClock
from hedgebot.model.account import AccountSnapshot
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.model.orders import Fill, OrderRequest, OrderStatus, OrderUpdate, Side
from hedgebot.venues.ports import Broker, MarketFeed, MarketSink
from hedgebot.venues.sim import AccountSeed, MarketSettings, PaperExchange, SimulatedExchange

SYMBOLS = ("BTC-PERPETUAL", "BTC-5JAN26", "ETH-27MAR26-3000-C")
SETTINGS = MarketSettings(seed=12)


class RecordingSink:
    """Remembers every market and account event it is given."""

    def __init__(self) -> None:
        self.quotes: list[Quote] = []
        self.indexes: list[IndexPrice] = []
        self.accounts: list[AccountSnapshot] = []
        self.orders: list[OrderUpdate] = []
        self.fills: list[Fill] = []
        self.connected = asyncio.Event()

    def on_quote(self, quote: Quote) -> None:
        self.quotes.append(quote)

    def on_index(self, index: IndexPrice) -> None:
        self.indexes.append(index)

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        if connected:
            self.connected.set()

    def on_account(self, snapshot: AccountSnapshot) -> None:
        self.accounts.append(snapshot)
        self.connected.set()

    def on_order(self, update: OrderUpdate) -> None:
        self.orders.append(update)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


def _exchange() -> tuple[SimulatedExchange, SimulatedClock]:
    clock = SimulatedClock(SETTINGS.start_ms)
    exchange = SimulatedExchange(
        venue="sim",
        clock=clock,
        market=SETTINGS,
        accounts={"acc": AccountSeed(collateral={"BTC": 1.0})},
        symbols=SYMBOLS,
    )
    return exchange, clock


async def _started(stream: asyncio.Task[None], sink: RecordingSink) -> None:
    await asyncio.wait_for(sink.connected.wait(), timeout=5)
    assert not stream.done()


async def test_instruments_lists_the_configured_symbols() -> None:
    """The feed lists exactly the configured instruments, on the caller's venue name."""
    exchange, _ = _exchange()
    listed = await exchange.instruments()
    assert [i.symbol for i in listed] == list(SYMBOLS)
    assert {i.venue for i in listed} == {"sim"}


async def test_stream_pushes_quotes_now_and_on_every_step_until_cancelled() -> None:
    """Streaming pushes a quote per key and the index at once, fresh ones on every new step,
    none for an expired instrument, and nothing once cancelled."""
    exchange, clock = _exchange()
    sink = RecordingSink()
    keys = [InstrumentKey("sim", s) for s in SYMBOLS]
    stream = asyncio.create_task(exchange.stream(keys, sink))
    await _started(stream, sink)
    assert [q.key for q in sink.quotes] == keys
    assert {i.underlying for i in sink.indexes} == {"BTC", "ETH"}
    clock.advance(0.5)
    assert len(sink.quotes) == 3
    clock.advance(0.5)
    assert len(sink.quotes) == 6
    assert sink.quotes[-1].timestamp_ms == SETTINGS.start_ms + 1000
    assert sink.quotes[-1] == exchange.quote(SYMBOLS[-1])
    clock.advance(8 * 3600)
    assert {q.key.symbol for q in sink.quotes[-2:]} == {"BTC-PERPETUAL", "ETH-27MAR26-3000-C"}
    stream.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stream
    count = len(sink.quotes)
    clock.advance(10)
    assert len(sink.quotes) == count


async def test_broker_stream_pushes_orders_fills_and_snapshots() -> None:
    """An account stream gets its snapshot at once, the order's ack, its fills, its final state
    and a snapshot showing the new position."""
    exchange, clock = _exchange()
    broker = exchange.broker("acc")
    sink = RecordingSink()
    stream = asyncio.create_task(broker.stream(sink))
    await _started(stream, sink)
    assert sink.accounts[0].positions == ()
    quote = exchange.quote("BTC-PERPETUAL")
    order = OrderRequest(
        client_id="c1",
        account="acc",
        key=quote.key,
        side=Side.SELL,
        amount=1000,
        limit_price=quote.bid,
    )
    await broker.submit(order)
    assert [u.status for u in sink.orders] == [OrderStatus.OPEN]
    clock.advance(1)
    assert [u.status for u in sink.orders] == [OrderStatus.OPEN, OrderStatus.FILLED]
    assert [f.amount for f in sink.fills] == [1000]
    assert sink.accounts[-1].positions[0].amount == -1000
    pushed = len(sink.accounts)
    clock.advance(SETTINGS.account_push_seconds)
    assert len(sink.accounts) == pushed + 1
    stream.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stream


async def test_clock_before_the_market_start_is_refused() -> None:
    """An exchange cannot start before its market's first price."""
    with pytest.raises(ValueError, match="before the market's start"):
        SimulatedExchange(
            venue="sim",
            clock=SimulatedClock(SETTINGS.start_ms - 1),
            market=SETTINGS,
            accounts={},
            symbols=SYMBOLS,
        )


async def test_unknown_account_has_no_broker() -> None:
    """Asking for a broker of an account that was never seeded fails loudly."""
    exchange, _ = _exchange()
    with pytest.raises(ValueError, match="unknown account"):
        exchange.broker("nobody")


async def test_exchange_and_paper_venue_implement_the_ports() -> None:
    """The simulated exchange is a MarketFeed, its brokers and the paper venue's are Brokers,
    and the paper venue is a MarketSink (checked by mypy, exercised here)."""
    exchange, _ = _exchange()
    feed: MarketFeed = exchange
    broker: Broker = exchange.broker("acc")
    paper = PaperExchange(
        venue="sim",
        clock=SimulatedClock(SETTINGS.start_ms),
        instruments=await feed.instruments(),
        accounts={"acc": AccountSeed(collateral={"BTC": 1.0})},
    )
    sink: MarketSink = paper
    paper_broker: Broker = paper.broker("acc")
    sink.on_feed_status("sim", connected=True, reason="test")
    sink.on_quote(exchange.quote("BTC-PERPETUAL"))
    assert feed.venue == broker.venue == paper_broker.venue == "sim"
    assert (await paper_broker.snapshot()).collateral == {"BTC": 1.0}
