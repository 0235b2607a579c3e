"""Paper trading: the simulator's ledger matches against quotes from any market feed."""

from __future__ import annotations

import pytest

from hedgebot.clock import SimulatedClock
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.model.orders import OrderRequest, OrderStatus, Side
from hedgebot.venues.sim import AccountSeed, BookLevel, OrderBook, PaperExchange, sim_instrument
from hedgebot.venues.sim.settings import DEFAULT_START_MS

PERP = InstrumentKey("deribit", "BTC-PERPETUAL")


def _venue(latency_ms: int = 50) -> tuple[PaperExchange, SimulatedClock]:
    clock = SimulatedClock(DEFAULT_START_MS + 1)
    venue = PaperExchange(
        venue="deribit",
        clock=clock,
        instruments=[sim_instrument("deribit", "BTC-PERPETUAL")],
        accounts={"paper": AccountSeed(collateral={"BTC": 1.0})},
        latency_ms=latency_ms,
    )
    return venue, clock


def _quote(clock: SimulatedClock, bid: float, ask: float, funding: float = 0.0) -> Quote:
    mid = (bid + ask) / 2
    return Quote(
        key=PERP,
        timestamp_ms=clock.now_ms(),
        bid=bid,
        ask=ask,
        mark_price=mid,
        underlying_price=mid,
        funding_rate_8h=funding,
    )


def _order(client_id: str, side: Side, amount: float, price: float) -> OrderRequest:
    return OrderRequest(
        client_id=client_id, account="paper", key=PERP, side=side, amount=amount, limit_price=price
    )


async def test_order_fills_against_the_first_quote_after_its_latency() -> None:
    """A marketable order does not fill on quotes inside its latency, then fills at the ask."""
    venue, clock = _venue()
    broker = venue.broker("paper")
    venue.on_quote(_quote(clock, 50_000, 50_001))
    await broker.submit(_order("buy", Side.BUY, 1000, 50_010))
    clock.advance(0.01)
    venue.on_quote(_quote(clock, 50_000, 50_001))
    assert await broker.fills_since(0) == []
    clock.advance(0.05)
    venue.on_quote(_quote(clock, 50_002, 50_003))
    fills = await broker.fills_since(0)
    assert [(f.price, f.amount) for f in fills] == [(50_003, 1000)]
    assert fills[0].fee == pytest.approx(0.0005 * 1000 / 50_003)


async def test_resting_order_fills_at_its_limit_when_a_later_quote_crosses_it() -> None:
    """A bid below the market rests, then fills at its own limit once the ask trades through."""
    venue, clock = _venue()
    broker = venue.broker("paper")
    venue.on_quote(_quote(clock, 50_000, 50_001))
    await broker.submit(_order("bid", Side.BUY, 500, 49_900))
    clock.advance(1)
    venue.on_quote(_quote(clock, 49_950, 49_951))
    update = await broker.lookup("bid", PERP)
    assert update is not None
    assert update.status is OrderStatus.OPEN
    clock.advance(1)
    venue.on_quote(_quote(clock, 49_850, 49_851))
    fills = await broker.fills_since(0)
    assert [(f.price, f.amount) for f in fills] == [(49_900, 500)]
    assert fills[0].fee == 0.0


async def test_feed_depth_is_walked_when_it_is_fresher_than_the_quote() -> None:
    """A book from the feed replaces synthetic depth: a big order walks its real levels."""
    venue, clock = _venue(latency_ms=0)
    broker = venue.broker("paper")
    venue.on_quote(_quote(clock, 50_000, 50_001))
    await broker.submit(_order("sweep", Side.BUY, 300, 50_010))
    asks = (BookLevel(price=50_001, amount=100), BookLevel(price=50_005, amount=100))
    venue.on_book(OrderBook(key=PERP, timestamp_ms=clock.now_ms(), bids=(), asks=asks))
    fills = await broker.fills_since(0)
    assert [(f.price, f.amount) for f in fills] == [(50_001, 100), (50_005, 100)]
    update = await broker.lookup("sweep", PERP)
    assert update is not None
    assert update.status is OrderStatus.PARTIALLY_FILLED


async def test_paper_funding_uses_the_feeds_rate() -> None:
    """At each 8-hour boundary a paper long pays the feed's funding rate on its position."""
    venue, clock = _venue(latency_ms=0)
    broker = venue.broker("paper")
    venue.on_quote(_quote(clock, 50_000, 50_000, funding=0.001))
    await broker.submit(_order("long", Side.BUY, 10_000, 50_000))
    venue.on_quote(_quote(clock, 50_000, 50_000, funding=0.001))
    before = (await broker.snapshot()).collateral["BTC"]
    clock.advance(8 * 3600)
    venue.on_quote(_quote(clock, 50_000, 50_000, funding=0.001))
    after = (await broker.snapshot()).collateral["BTC"]
    assert before - after == pytest.approx(0.001 * 10_000 / 50_000)


async def test_quotes_of_other_venues_are_ignored() -> None:
    """Quotes for instruments the paper venue does not list never trigger fills."""
    venue, clock = _venue(latency_ms=0)
    broker = venue.broker("paper")
    venue.on_quote(_quote(clock, 50_000, 50_001))
    await broker.submit(_order("bid", Side.BUY, 100, 49_000))
    other = Quote(
        key=InstrumentKey("other", "BTC-PERPETUAL"),
        timestamp_ms=clock.now_ms(),
        bid=40_000,
        ask=40_001,
        mark_price=40_000,
        underlying_price=40_000,
    )
    venue.on_quote(other)
    assert await broker.fills_since(0) == []


async def test_an_expired_future_settles_once_the_clock_passes_its_expiry_and_an_index_exists() -> (
    None
):
    """Quotes before the expiry leave the position alone; the first market event after it with an
    index settles it into collateral, also when the index only arrives later."""
    future = sim_instrument("deribit", "BTC-30JAN26")
    assert future.expiry_ms is not None
    clock = SimulatedClock(future.expiry_ms - 60_000)
    venue = PaperExchange(
        venue="deribit",
        clock=clock,
        instruments=[sim_instrument("deribit", "BTC-PERPETUAL"), future],
        accounts={
            "paper": AccountSeed(
                collateral={"BTC": 1.0}, positions=[(future.symbol, 10_000, 50_000)]
            )
        },
    )
    broker = venue.broker("paper")
    venue.on_quote(_quote(clock, 50_000, 50_001))
    held = {p.key: p.amount for p in (await broker.snapshot()).positions}
    assert held.get(future.key) == 10_000
    clock.advance(120)
    venue.on_quote(_quote(clock, 50_000, 50_001))  # past expiry, but no index yet
    assert future.key in {p.key for p in (await broker.snapshot()).positions if p.amount}
    venue.on_index(
        IndexPrice(venue="deribit", underlying="BTC", price=55_000, timestamp_ms=clock.now_ms())
    )
    snapshot = await broker.snapshot()
    assert future.key not in {p.key for p in snapshot.positions if p.amount}
    assert snapshot.collateral["BTC"] > 1.0  # long 10,000 USD bought at 50,000, settled at 55,000
