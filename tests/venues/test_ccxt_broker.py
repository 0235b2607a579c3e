"""The ccxt broker against a local Deribit-protocol endpoint: order entry, duplicates, reads."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from hedgebot.clock import Clock, SimulatedClock, WallClock
from hedgebot.config import VenueSettings
from hedgebot.model.account import AccountSnapshot
from hedgebot.model.errors import BadVenueData, OrderOutcomeUnknown, OrderRejected
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import Fill, OrderRequest, OrderStatus, OrderUpdate, Side
from hedgebot.venues.ccxt.broker import CcxtBroker
from hedgebot.venues.ccxt.feed import CcxtMarketFeed
from hedgebot.venues.ccxt.retry import Backoff
from hedgebot.venues.ports import Broker, MarketFeed
from tests.support.ccxt_fake_deribit import FakeDeribit, FakeOrder
from tests.support.ccxt_recorded import load_json

PERP = InstrumentKey("deribit", "BTC-PERPETUAL")


async def _open(
    rest: str, ws: str, *, create_timeout_s: float = 5.0, clock: Clock | None = None
) -> CcxtBroker:
    """A broker on the fake; retries wait on a simulated clock unless a clock is given."""
    settings = VenueSettings(
        driver="ccxt",
        exchange="deribit",
        rest_url=rest,
        ws_url=ws,
        api_key=SecretStr("key"),
        api_secret=SecretStr("secret"),
        keepalive_ms=60_000,
    )
    return await CcxtBroker.open(
        account="main",
        venue="deribit",
        settings=settings,
        clock=clock or SimulatedClock(int(time.time() * 1000)),
        client_id_prefix="hb-",
        create_timeout_s=create_timeout_s,
        poll_interval_s=0.05,
        backoff=Backoff(first_s=0.01, attempts=3),
    )


def _order(client_id: str = "hb-1", amount: float = 55, price: float = 92000.3) -> OrderRequest:
    return OrderRequest(
        client_id=client_id,
        account="main",
        key=PERP,
        side=Side.BUY,
        amount=amount,
        limit_price=price,
    )


async def test_submit_sends_truncated_usd_amount_with_label(
    fake: tuple[FakeDeribit, str, str],
) -> None:
    """55 USD is sent once as 50 USD, at a price rounded down to the tick, labelled with our id."""
    server, rest, ws = fake
    broker = await _open(rest, ws)
    try:
        update = await broker.submit(_order())
    finally:
        await broker.close()
    ((_, params),) = [c for c in server.calls if c[0] == "private/buy"]
    assert (params["amount"], params["price"], params["label"]) == ("50", "92000", "hb-1")
    assert (update.client_id, update.status) == ("hb-1", OrderStatus.OPEN)
    assert update.venue_order_id == server.orders[0].order_id
    assert server.count("private/get_order_state_by_label") == 1


async def test_silent_duplicate_is_reported_and_the_extra_order_cancelled(
    fake: tuple[FakeDeribit, str, str],
) -> None:
    """When one create leaves two orders with our label, the extra one is logged and cancelled."""
    server, rest, ws = fake
    server.buy_creates = 2
    broker = await _open(rest, ws)
    try:
        with capture_logs() as logs:
            update = await broker.submit(_order())
    finally:
        await broker.close()
    duplicates = [e for e in logs if e["event"] == "broker.duplicate_orders"]
    assert len(duplicates) == 1
    assert sorted(duplicates[0]["venue_order_ids"]) == sorted(o.order_id for o in server.orders)
    states = {o.order_id: o.state for o in server.orders}
    assert states[update.venue_order_id] == "open"
    assert sorted(states.values()) == ["cancelled", "open"]
    assert server.count("private/buy") == 1


async def test_timed_out_create_found_by_label_is_not_unknown(
    fake: tuple[FakeDeribit, str, str],
) -> None:
    """A create that times out but reached the venue is found by its label and returned."""
    server, rest, ws = fake
    server.buy_delay_s = 1.0
    broker = await _open(rest, ws, create_timeout_s=0.3)
    try:
        update = await broker.submit(_order())
    finally:
        await broker.close()
    assert update.venue_order_id == server.orders[0].order_id
    assert server.count("private/buy") == 1


async def test_timed_out_create_not_found_is_unknown_and_never_resent(
    fake: tuple[FakeDeribit, str, str],
) -> None:
    """A create with no answer and no order under its label is UNKNOWN, and sent only once."""
    server, rest, ws = fake
    server.buy_delay_s, server.buy_creates = 1.0, 0
    broker = await _open(rest, ws, create_timeout_s=0.3)
    try:
        with pytest.raises(OrderOutcomeUnknown):
            await broker.submit(_order())
    finally:
        await broker.close()
    assert server.count("private/buy") == 1


async def test_too_small_order_is_rejected_before_sending(
    fake: tuple[FakeDeribit, str, str],
) -> None:
    """An order below one 10 USD lot never reaches the venue."""
    server, rest, ws = fake
    broker = await _open(rest, ws)
    try:
        with pytest.raises(OrderRejected, match="minimum"):
            await broker.submit(_order(amount=9))
    finally:
        await broker.close()
    assert server.count("private/buy") == 0


async def test_order_entry_never_reuses_a_connection(fake: tuple[FakeDeribit, str, str]) -> None:
    """Each create travels on a fresh TCP connection, so aiohttp can never silently re-send it."""
    server, rest, ws = fake
    broker = await _open(rest, ws)
    try:
        await broker.submit(_order("hb-1"))
        await broker.submit(_order("hb-2"))
    finally:
        await broker.close()
    assert len(server.buy_peers) == 2
    assert server.buy_peers[0] != server.buy_peers[1]


async def test_cancel_is_retried_after_rate_limit(fake: tuple[FakeDeribit, str, str]) -> None:
    """too_many_requests on a cancel is retried, and the order ends cancelled."""
    server, rest, ws = fake
    broker = await _open(rest, ws)
    try:
        await broker.submit(_order())
        server.errors["private/cancel_by_label"] = [(10028, "too_many_requests")]
        await broker.cancel("hb-1", PERP)
        server.errors["private/cancel_by_label"] = [(10004, "order_not_found")]
        await broker.cancel("hb-1", PERP)  # already gone: no error
    finally:
        await broker.close()
    assert server.count("private/cancel_by_label") == 3
    assert server.orders[0].state == "cancelled"


async def test_lookup_by_client_id(fake: tuple[FakeDeribit, str, str]) -> None:
    """lookup finds our order by label, and answers None for a client id the venue never saw."""
    _, rest, ws = fake
    broker = await _open(rest, ws)
    try:
        placed = await broker.submit(_order())
        found = await broker.lookup("hb-1", PERP)
        missing = await broker.lookup("hb-404", PERP)
    finally:
        await broker.close()
    assert found is not None
    assert found.venue_order_id == placed.venue_order_id
    assert missing is None


async def test_snapshot_converts_positions_and_margin(fake: tuple[FakeDeribit, str, str]) -> None:
    """The REST snapshot carries Deribit's position in USD with its coin delta, and BTC margin."""
    _, rest, ws = fake
    broker = await _open(rest, ws)
    try:
        snapshot = await broker.snapshot()
    finally:
        await broker.close()
    recorded = load_json("deribit/get_positions_docs_example.json")["result"][0]
    (position,) = snapshot.positions
    assert (position.key, position.amount, position.venue_delta) == (
        PERP,
        recorded["size"],
        recorded["size_currency"],
    )
    assert "BTC" in {m.currency for m in snapshot.margin}


async def test_position_in_an_unsupported_market_fails_the_snapshot(
    fake: tuple[FakeDeribit, str, str],
) -> None:
    """An open combo position cannot be valued, so the snapshot fails instead of omitting it."""
    server, rest, ws = fake
    combo = {**server.positions[0], "instrument_name": "BTC-COMBO-1", "kind": "future_combo"}
    server.positions = [*server.positions, combo]
    broker = await _open(rest, ws)
    try:
        with pytest.raises(BadVenueData, match="BTC-COMBO-1"):
            await broker.snapshot()
    finally:
        await broker.close()


async def test_open_orders_and_fills_are_ours_only(fake: tuple[FakeDeribit, str, str]) -> None:
    """Orders and trades without hedgebot's client-id prefix are not reported as ours."""
    server, rest, ws = fake
    broker = await _open(rest, ws)
    now = int(time.time() * 1000)
    trade = {
        "trade_id": "BTC-9",
        "order_id": "BTC-1",
        "instrument_name": "BTC-PERPETUAL",
        "direction": "buy",
        "price": 92000.0,
        "amount": 50.0,
        "fee": 1e-7,
        "fee_currency": "BTC",
        "timestamp": now,
        "label": "hb-1",
    }
    server.trades = [trade, {**trade, "trade_id": "BTC-10", "label": "manual"}]
    server.orders.append(
        FakeOrder(
            order_id="BTC-77",
            label="manual",
            instrument="BTC-PERPETUAL",
            direction="sell",
            amount=10,
            price=1e5,
        )
    )
    try:
        await broker.submit(_order("hb-1"))
        open_orders = await broker.open_orders()
        fills = await broker.fills_since(now - 1000)
    finally:
        await broker.close()
    assert [u.client_id for u in open_orders] == ["hb-1"]
    assert [(f.trade_id, f.client_id, f.amount, f.fee_currency) for f in fills] == [
        ("BTC-9", "hb-1", 50.0, "BTC")
    ]


@dataclass
class RecordingAccountSink:
    """An AccountSink that records events and wakes the test on account and order events."""

    accounts: list[AccountSnapshot] = field(default_factory=list)
    orders: list[OrderUpdate] = field(default_factory=list)
    fills: list[Fill] = field(default_factory=list)
    got_account: asyncio.Event = field(default_factory=asyncio.Event)
    got_order: asyncio.Event = field(default_factory=asyncio.Event)

    def on_account(self, snapshot: AccountSnapshot) -> None:
        self.accounts.append(snapshot)
        self.got_account.set()

    def on_order(self, update: OrderUpdate) -> None:
        self.orders.append(update)
        self.got_order.set()

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


async def test_stream_pushes_snapshots_and_order_events(fake: tuple[FakeDeribit, str, str]) -> None:
    """The stream reconciles first, then pushes websocket order events of our orders."""
    server, rest, ws = fake
    broker = await _open(rest, ws, clock=WallClock())  # polls every 50 ms of real time
    sink = RecordingAccountSink()
    task = asyncio.create_task(broker.stream(sink))
    try:
        await asyncio.wait_for(sink.got_account.wait(), 5)
        await asyncio.wait_for(server.orders_subscribed.wait(), 5)
        await broker.submit(_order())
        await asyncio.wait_for(sink.got_order.wait(), 5)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await broker.close()
    assert sink.accounts[0].positions[0].key == PERP
    assert sink.orders[-1].client_id == "hb-1"


def test_gateway_classes_satisfy_the_ports() -> None:
    """CcxtBroker and CcxtMarketFeed are what the core's ports ask for (checked by mypy too)."""

    def as_ports(broker: CcxtBroker, feed: CcxtMarketFeed) -> tuple[Broker, MarketFeed]:
        return broker, feed  # mypy fails here if a port signature drifts

    assert callable(as_ports)
    for name in ("stream", "snapshot", "open_orders", "fills_since", "submit", "cancel", "lookup"):
        assert callable(getattr(CcxtBroker, name))
    assert callable(CcxtMarketFeed.instruments)
    assert callable(CcxtMarketFeed.stream)
