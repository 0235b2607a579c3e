"""Orders on the simulated exchange fill after latency, walk the book, rest, and get refused."""

from __future__ import annotations

import pytest

from hedgebot.clock import SimulatedClock
from hedgebot.model.errors import OrderRejected
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import OrderRequest, OrderStatus, Side
from hedgebot.venues.sim import AccountSeed, MarketSettings, SimulatedExchange

SYMBOLS = ("BTC-PERPETUAL", "BTC-27MAR26-60000-C", "BTC_USDC", "ETH-PERPETUAL")
SETTINGS = MarketSettings(seed=5)


def _exchange(
    accounts: dict[str, AccountSeed] | None = None, settings: MarketSettings = SETTINGS
) -> tuple[SimulatedExchange, SimulatedClock]:
    clock = SimulatedClock(settings.start_ms)
    seeds = accounts or {
        "alice": AccountSeed(collateral={"BTC": 10.0, "ETH": 100.0, "USDC": 100_000.0}),
        "bob": AccountSeed(collateral={"BTC": 10.0}),
    }
    exchange = SimulatedExchange(
        venue="sim", clock=clock, market=settings, accounts=seeds, symbols=SYMBOLS
    )
    return exchange, clock


def _order(
    client_id: str,
    symbol: str,
    side: Side,
    amount: float,
    price: float,
    *,
    account: str = "alice",
    reduce_only: bool = False,
) -> OrderRequest:
    return OrderRequest(
        client_id=client_id,
        account=account,
        key=InstrumentKey("sim", symbol),
        side=side,
        amount=amount,
        limit_price=price,
        reduce_only=reduce_only,
    )


async def test_aggressive_order_fills_after_latency_walking_the_book() -> None:
    """A big marketable buy fills only once the latency has passed, level by level, at an
    average price worse than the top of book and never above its limit."""
    exchange, clock = _exchange()
    broker = exchange.broker("alice")
    book = exchange.book("BTC-PERPETUAL")
    limit = book.asks[2].price
    size = book.asks[0].amount + book.asks[1].amount + book.asks[2].amount / 2
    ack = await broker.submit(_order("big", "BTC-PERPETUAL", Side.BUY, size, limit))
    assert ack.status is OrderStatus.OPEN
    assert ack.filled_amount == 0
    clock.advance(0.02)
    assert await broker.fills_since(0) == []
    clock.advance(0.05)
    fills = await broker.fills_since(0)
    assert [f.price for f in fills] == [level.price for level in book.asks[:3]]
    assert all(f.timestamp_ms == SETTINGS.start_ms + SETTINGS.latency_ms for f in fills)
    average = sum(f.price * f.amount for f in fills) / sum(f.amount for f in fills)
    assert book.asks[0].price < average <= limit
    assert sum(f.amount for f in fills) == pytest.approx(size)
    assert (await broker.lookup("big", ack.key)) == ack.__class__(
        client_id="big",
        venue_order_id=ack.venue_order_id,
        key=ack.key,
        status=OrderStatus.FILLED,
        filled_amount=size,
        timestamp_ms=fills[-1].timestamp_ms,
    )
    snapshot = await broker.snapshot()
    assert snapshot.positions[0].amount == pytest.approx(size)


async def test_order_beyond_the_book_at_its_limit_rests_partially_filled() -> None:
    """A buy limited between two levels takes what is at or below its limit and rests the rest."""
    exchange, clock = _exchange()
    broker = exchange.broker("alice")
    book = exchange.book("BTC-PERPETUAL")
    limit = book.asks[1].price
    size = book.asks[0].amount + book.asks[1].amount + book.asks[2].amount
    await broker.submit(_order("part", "BTC-PERPETUAL", Side.BUY, size, limit))
    clock.advance(0.1)
    fills = await broker.fills_since(0)
    assert max(f.price for f in fills) <= limit
    update = await broker.lookup("part", fills[0].key)
    assert update is not None
    assert update.status is OrderStatus.PARTIALLY_FILLED
    assert update.filled_amount == pytest.approx(book.asks[0].amount + book.asks[1].amount)
    assert [o.client_id for o in await broker.open_orders()] == ["part"]


async def test_passive_order_rests_and_fills_at_its_limit_when_the_market_crosses_it() -> None:
    """A bid below the market fills, at its limit, at the first step the ask falls to it."""
    exchange, clock = _exchange()
    broker = exchange.broker("alice")
    quote = exchange.quote("BTC-PERPETUAL")
    limit = quote.bid - 40.0
    await broker.submit(_order("dip", "BTC-PERPETUAL", Side.BUY, 1000, limit))
    asks_seen: list[tuple[int, float]] = []
    for _ in range(4 * 3600):
        clock.advance(1)
        current = exchange.quote("BTC-PERPETUAL")
        asks_seen.append((current.timestamp_ms, current.ask))
        if await broker.fills_since(0):
            break
    fills = await broker.fills_since(0)
    assert fills, "the market should come down 40 USD within four hours"
    crossing = next(t for t, ask in asks_seen if ask <= limit)
    assert fills[0].timestamp_ms == crossing
    assert all(f.price == limit for f in fills)
    assert sum(f.amount for f in fills) == 1000


async def test_passive_order_is_crossed_between_two_advances() -> None:
    """A resting order fills at the step the market crosses it, even within one long advance."""
    stepwise, clock_a = _exchange()
    jumping, clock_b = _exchange()
    orders = []
    for exchange in (stepwise, jumping):
        limit = exchange.quote("BTC-PERPETUAL").ask + 60.0
        orders.append(_order("ask", "BTC-PERPETUAL", Side.SELL, 500, limit))
    await stepwise.broker("alice").submit(orders[0])
    await jumping.broker("alice").submit(orders[1])
    for _ in range(2 * 3600):
        clock_a.advance(1)
    clock_b.advance(2 * 3600)
    fills_a = await stepwise.broker("alice").fills_since(0)
    fills_b = await jumping.broker("alice").fills_since(0)
    assert fills_a, "the market should rise 60 USD within two hours"
    assert fills_a == fills_b


async def test_reduce_only_orders_must_reduce() -> None:
    """Reduce-only orders are refused without a position, on the wrong side, or beyond it."""
    seeds = {"alice": AccountSeed(collateral={"BTC": 1.0}, positions=[("BTC-PERPETUAL", 100, 0)])}
    exchange, clock = _exchange(seeds)
    broker = exchange.broker("alice")
    price = exchange.quote("BTC-PERPETUAL").bid
    cases = [
        ("up", "BTC-PERPETUAL", Side.BUY, 10, "would open or increase"),
        ("over", "BTC-PERPETUAL", Side.SELL, 200, "exceeds the position"),
        ("none", "ETH-PERPETUAL", Side.SELL, 1, "would open or increase"),
    ]
    for client_id, symbol, side, amount, reason in cases:
        limit = price if symbol == "BTC-PERPETUAL" else exchange.quote(symbol).bid
        with pytest.raises(OrderRejected, match=reason):
            await broker.submit(_order(client_id, symbol, side, amount, limit, reduce_only=True))
        update = await broker.lookup(client_id, InstrumentKey("sim", symbol))
        assert update is not None
        assert update.status is OrderStatus.REJECTED
        assert reason in update.reason
    await broker.submit(_order("ok", "BTC-PERPETUAL", Side.SELL, 100, price, reduce_only=True))
    clock.advance(1)
    assert (await broker.snapshot()).positions == ()


async def test_sizes_and_prices_must_fit_the_instrument() -> None:
    """Orders below min_amount, in part contracts or off the tick are refused with a reason."""
    exchange, _ = _exchange()
    broker = exchange.broker("alice")
    perp = exchange.quote("BTC-PERPETUAL").bid
    option = exchange.quote("BTC-27MAR26-60000-C").bid
    cases = [
        ("tiny", "BTC-PERPETUAL", 5, perp, "below min_amount"),
        ("odd", "BTC-PERPETUAL", 15, perp, "not a multiple of contract_size"),
        ("tick", "BTC-PERPETUAL", 10, perp + 0.25, "not a multiple of tick_size"),
        ("tiny-option", "BTC-27MAR26-60000-C", 0.05, option, "below min_amount"),
        ("odd-option", "BTC-27MAR26-60000-C", 0.15, option, "not a multiple"),
        ("unknown", "BTC-PERPETUAL-X", 10, perp, "unknown instrument"),
        ("short-spot", "BTC_USDC", 0.01, exchange.quote("BTC_USDC").bid, "insufficient balance"),
    ]
    for client_id, symbol, amount, price, reason in cases:
        with pytest.raises(OrderRejected, match=reason):
            await broker.submit(
                _order(
                    client_id,
                    symbol,
                    Side.BUY if "spot" not in client_id else Side.SELL,
                    amount,
                    price,
                )
            )
    await broker.submit(_order("fine", "BTC-27MAR26-60000-C", Side.BUY, 0.3, option))


async def test_duplicate_client_id_is_refused_and_the_original_kept() -> None:
    """A second order with a used client id is refused; lookup still shows the first one."""
    exchange, clock = _exchange()
    broker = exchange.broker("alice")
    ask = exchange.quote("BTC-PERPETUAL").ask
    first = await broker.submit(_order("same", "BTC-PERPETUAL", Side.BUY, 10, ask))
    clock.advance(1)
    with pytest.raises(OrderRejected, match="duplicate client_id"):
        await broker.submit(_order("same", "BTC-PERPETUAL", Side.SELL, 20, ask))
    found = await broker.lookup("same", first.key)
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert found.filled_amount == 10
    assert found.venue_order_id == first.venue_order_id


async def test_lookup_finds_filled_cancelled_and_only_own_orders() -> None:
    """Lookup by client id finds filled and cancelled orders, not other accounts' or unknown."""
    exchange, clock = _exchange()
    alice, bob = exchange.broker("alice"), exchange.broker("bob")
    quote = exchange.quote("BTC-PERPETUAL")
    key = quote.key
    await alice.submit(_order("taken", "BTC-PERPETUAL", Side.BUY, 10, quote.ask))
    await alice.submit(_order("parked", "BTC-PERPETUAL", Side.BUY, 10, quote.bid - 500))
    clock.advance(1)
    await alice.cancel("parked", key)
    await alice.cancel("parked", key)
    await bob.cancel("taken", key)
    taken, parked = await alice.lookup("taken", key), await alice.lookup("parked", key)
    assert taken is not None
    assert taken.status is OrderStatus.FILLED
    assert parked is not None
    assert parked.status is OrderStatus.CANCELLED
    assert await bob.lookup("taken", key) is None
    assert await alice.lookup("never", key) is None
    assert await alice.open_orders() == []


async def test_same_seed_and_orders_give_identical_fills() -> None:
    """Two runs with one seed and one order flow produce the same fills; another seed does not."""

    async def run(seed: int) -> list[tuple[str, float, float, int]]:
        exchange, clock = _exchange(settings=MarketSettings(seed=seed))
        broker = exchange.broker("alice")
        for index in range(30):
            quote = exchange.quote("BTC-PERPETUAL")
            side = Side.BUY if index % 2 else Side.SELL
            price = quote.bid - 5 if side is Side.BUY else quote.ask + 5
            await broker.submit(_order(f"o{index}", "BTC-PERPETUAL", side, 1000, price))
            clock.advance(120)
        return [
            (f.trade_id, f.price, f.amount, f.timestamp_ms) for f in await broker.fills_since(0)
        ]

    first, again, other = await run(1), await run(1), await run(2)
    assert first
    assert first == again
    assert first != other
