"""The ccxt gateway end to end against hedgebot's local Deribit exchange
(hedgebot_localvenues.deribit)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from hedgebot.clock import WallClock
from hedgebot.config import VenueSettings
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.model.orders import OrderRequest, OrderStatus, Side
from hedgebot.venues.ccxt import CcxtBroker, CcxtMarketFeed, MarketCatalog, create_exchange
from hedgebot_localvenues.deribit.server import DeribitSimServer
from tests.support.local_deribit import TEST_BOOK, running_sim

PERP = InstrumentKey("deribit", "BTC-PERPETUAL")
CALL = InstrumentKey("deribit", "BTC-27MAR26-60000-C")


class QuoteSink:
    """Records quotes and feed status; wakes the test after `wanted` quotes since the last reset."""

    def __init__(self) -> None:
        self.quotes: list[Quote] = []
        self.statuses: list[tuple[bool, str]] = []
        self.enough = asyncio.Event()
        self._wanted = 5

    def expect(self, more: int) -> None:
        self._wanted = len(self.quotes) + more
        self.enough.clear()

    def on_quote(self, quote: Quote) -> None:
        self.quotes.append(quote)
        if len(self.quotes) >= self._wanted:
            self.enough.set()

    def on_index(self, index: IndexPrice) -> None:
        pass

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        self.statuses.append((connected, reason))


@pytest.fixture
async def sim() -> AsyncIterator[DeribitSimServer]:
    async with running_sim() as server:
        yield server


def _settings(server: DeribitSimServer, **changes: Any) -> VenueSettings:
    account = TEST_BOOK.accounts["main"]
    return VenueSettings(
        driver="ccxt",
        exchange="deribit",
        rest_url=server.url,
        ws_url=server.ws_url,
        api_key=SecretStr(account.api_key),
        api_secret=account.api_secret,
        **changes,
    )


async def test_feed_survives_an_error_frame_and_a_dropped_socket(sim: DeribitSimServer) -> None:
    """Quotes keep coming after the venue stalls ccxt with an error frame, then drops the socket."""
    feed = CcxtMarketFeed.from_settings(
        "deribit", _settings(sim, stale_after_s=0.5), clock=WallClock()
    )
    sink = QuoteSink()
    task = asyncio.create_task(feed.stream([PERP, CALL], sink))
    try:
        await asyncio.wait_for(sink.enough.wait(), 10)
        assert await sim.faults.send_error_frame() == 1
        sink.expect(5)
        await asyncio.wait_for(sink.enough.wait(), 10)
        assert await sim.faults.drop_websockets() == 1
        sink.expect(5)
        await asyncio.wait_for(sink.enough.wait(), 10)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await feed.close()
    assert [connected for connected, _ in sink.statuses] == [True, False, True, False, True]
    assert "stale" in sink.statuses[1][1]
    call_quotes = [q for q in sink.quotes if q.key == CALL]
    assert call_quotes
    assert call_quotes[-1].mark_iv is not None
    assert call_quotes[-1].mark_price < 1  # coin premium


async def test_lost_order_answer_is_recovered_by_label_without_duplicate(
    sim: DeribitSimServer,
) -> None:
    """An executed order whose HTTP answer is cut off is found by label; nothing is sent twice."""
    broker = await CcxtBroker.open(
        account="main",
        venue="deribit",
        settings=_settings(sim),
        clock=WallClock(),
        client_id_prefix="hb-",
    )
    try:
        sim.faults.lose_next_order(mode="close")
        update = await broker.submit(
            OrderRequest(
                client_id="hb-1",
                account="main",
                key=PERP,
                side=Side.BUY,
                amount=100,
                limit_price=1000,
            )
        )
        open_orders = await broker.open_orders()
    finally:
        await broker.close()
    assert update.status is OrderStatus.OPEN
    assert [(o.client_id, o.venue_order_id) for o in open_orders] == [
        ("hb-1", update.venue_order_id)
    ]


async def test_pooled_session_duplicate_is_detected_and_trimmed(sim: DeribitSimServer) -> None:
    """With ccxt's default keep-alive session the answer loss duplicates the order; the label check
    reports it and cancels the extra, which is why order entry uses its own force-close session."""
    settings = _settings(sim)
    exchange = create_exchange(settings, venue="deribit", credentials=True)
    pooled = create_exchange(settings, venue="deribit", credentials=True)
    await exchange.load_markets()
    pooled.set_markets(exchange.markets, exchange.currencies)
    catalog = MarketCatalog.from_ccxt(exchange.markets, venue="deribit", exchange_id="deribit")
    broker = CcxtBroker(
        account="main",
        venue="deribit",
        exchange=exchange,
        order_exchange=pooled,
        catalog=catalog,
        clock=WallClock(),
        client_id_prefix="hb-",
    )
    order = OrderRequest(
        client_id="hb-a", account="main", key=PERP, side=Side.BUY, amount=100, limit_price=1000
    )
    try:
        await broker.submit(order)  # opens the keep-alive connection that the next call reuses
        sim.faults.lose_next_order(mode="close")
        with capture_logs() as logs:
            update = await broker.submit(
                OrderRequest(
                    client_id="hb-b",
                    account="main",
                    key=PERP,
                    side=Side.BUY,
                    amount=100,
                    limit_price=1000,
                )
            )
        open_orders = await broker.open_orders()
    finally:
        await broker.close()
    (duplicate,) = [e for e in logs if e["event"] == "broker.duplicate_orders"]
    assert len(duplicate["venue_order_ids"]) == 2
    assert sorted(o.client_id for o in open_orders) == ["hb-a", "hb-b"]
    assert update.venue_order_id in {o.venue_order_id for o in open_orders}


async def test_filled_hedge_shows_up_as_usd_position_with_coin_delta(sim: DeribitSimServer) -> None:
    """A marketable buy of 1055 USD fills 1050 USD; the snapshot's coin delta is USD / mark."""
    broker = await CcxtBroker.open(
        account="main",
        venue="deribit",
        settings=_settings(sim),
        clock=WallClock(),
        client_id_prefix="hb-",
    )
    try:
        update = await broker.submit(
            OrderRequest(
                client_id="hb-1",
                account="main",
                key=PERP,
                side=Side.BUY,
                amount=1055,
                limit_price=1e6,
            )
        )
        snapshot = await broker.snapshot()
    finally:
        await broker.close()
    assert (update.status, update.filled_amount) == (OrderStatus.FILLED, 1050)
    (perp,) = [p for p in snapshot.positions if p.key == PERP]
    assert perp.amount == 1050
    assert perp.venue_delta is not None
    assert perp.venue_delta == pytest.approx(1050 / perp.average_price, rel=0.05)  # coin, not USD
