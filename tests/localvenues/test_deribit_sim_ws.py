"""The local Deribit exchange over websockets: ccxt.pro watches and the raw JSON-RPC protocol."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from hedgebot_localvenues.deribit import DeribitSimServer
from tests.support.local_deribit import TEST_BOOK, running_sim, subscribed, until

PERP = "BTC/USD:BTC"
WAIT = 5.0


@pytest.fixture
async def server() -> AsyncIterator[DeribitSimServer]:
    async with running_sim(heartbeat_min_s=0.1) as running:
        yield running


class RawClient:
    """A bare JSON-RPC websocket client, to see Deribit's frames exactly."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.notifications: list[dict[str, Any]] = []
        self._next_id = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one request and return its response frame (notifications are kept aside)."""
        self._next_id += 1
        await self.ws.send_str(
            json.dumps({"jsonrpc": "2.0", "id": self._next_id, "method": method, "params": params})
        )
        while True:
            frame = await self.receive()
            if frame.get("id") == self._next_id:
                return frame
            self.notifications.append(frame)

    async def receive(self) -> dict[str, Any]:
        """The next frame."""
        message = await asyncio.wait_for(self.ws.receive(), WAIT)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame: dict[str, Any] = json.loads(message.data)
        return frame

    async def notification(self, channel: str) -> Any:
        """The data of the next notification on `channel`."""
        for index, frame in enumerate(self.notifications):
            if frame.get("params", {}).get("channel") == channel:
                del self.notifications[index]
                return frame["params"]["data"]
        while True:
            frame = await self.receive()
            if frame.get("params", {}).get("channel") == channel:
                return frame["params"]["data"]
            self.notifications.append(frame)


async def _signed_auth(raw: RawClient) -> dict[str, Any]:
    """public/auth with client_signature, computed like ccxt.pro does."""
    secret = TEST_BOOK.accounts["main"].api_secret.get_secret_value()
    timestamp = str(int(time.time() * 1000))
    nonce = "abc"
    signature = hmac.new(
        secret.encode(), f"{timestamp}\n{nonce}\n".encode(), hashlib.sha256
    ).hexdigest()
    return await raw.call(
        "public/auth",
        grant_type="client_signature",
        client_id="test-main",
        timestamp=int(timestamp),
        nonce=nonce,
        signature=signature,
        data="",
    )


async def test_watch_ticker_delivers_moving_prices(exchange: Any) -> None:
    """Successive watch_ticker results carry later timestamps and changing marks."""
    tickers = [await asyncio.wait_for(exchange.watch_ticker(PERP), WAIT) for _ in range(4)]
    stamps = [t["timestamp"] for t in tickers]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == 4
    assert len({t["markPrice"] for t in tickers}) > 1
    assert all(t["bid"] < t["ask"] for t in tickers)


async def test_watch_order_book_applies_snapshot_and_diffs(exchange: Any) -> None:
    """watch_order_book builds a sane book from the snapshot and later change messages."""
    stamps = []
    for _ in range(3):
        book = await asyncio.wait_for(exchange.watch_order_book(PERP), WAIT)
        bids, asks = book["bids"], book["asks"]
        assert bids[0][0] < asks[0][0]
        assert [b[0] for b in bids] == sorted((b[0] for b in bids), reverse=True)
        assert len(bids) == 5
        stamps.append(book["timestamp"])
    assert stamps == sorted(set(stamps))


async def test_private_streams_report_orders_trades_and_balance(
    server: DeribitSimServer, exchange: Any
) -> None:
    """After an order fills, watch_orders, watch_my_trades and watch_balance report it."""
    balance = await asyncio.wait_for(exchange.watch_balance(), WAIT)
    btc = balance["BTC"]  # ccxt nests a whole balance structure per currency (docs/venues.md)
    assert btc["BTC"]["total"] > 0
    assert "delta_total" in btc["info"]
    orders = asyncio.ensure_future(exchange.watch_orders())
    trades = asyncio.ensure_future(exchange.watch_my_trades())
    await until(server, lambda: subscribed(server, "user.orders.any.any.raw"))
    await until(server, lambda: subscribed(server, "user.trades.any.any.raw"))
    price = round((await exchange.fetch_ticker(PERP))["ask"] * 1.005 * 2) / 2
    order = await exchange.create_order(PERP, "limit", "buy", 200, price, {"label": "ws"})
    seen_orders = await asyncio.wait_for(orders, WAIT)
    seen_trades = await asyncio.wait_for(trades, WAIT)
    assert order["id"] in {o["id"] for o in seen_orders}
    assert [(t["order"], t["amount"]) for t in seen_trades] == [(order["id"], 200)]


async def test_raw_and_private_channels_need_authorisation(server: DeribitSimServer) -> None:
    """Unauthorised connections get public 100ms channels only; after auth, raw and user.*."""
    async with aiohttp.ClientSession() as http, http.ws_connect(server.ws_url) as ws:
        raw = RawClient(ws)
        anonymous = await raw.call(
            "public/subscribe",
            channels=["ticker.BTC-PERPETUAL.100ms", "ticker.BTC-PERPETUAL.raw", "nonsense.x"],
        )
        assert anonymous["result"] == ["ticker.BTC-PERPETUAL.100ms"]
        denied = await raw.call("private/subscribe", channels=["user.orders.any.any.raw"])
        assert denied["error"]["code"] == 13009
        auth = await _signed_auth(raw)
        assert auth["result"]["token_type"] == "bearer"
        granted = await raw.call(
            "private/subscribe",
            channels=[
                "user.orders.any.any.raw",
                "user.changes.future.BTC.raw",
                "user.portfolio.btc",
                "deribit_price_index.btc_usd",
            ],
        )
        assert sorted(granted["result"]) == sorted(
            [
                "user.orders.any.any.raw",
                "user.changes.future.BTC.raw",
                "user.portfolio.btc",
                "deribit_price_index.btc_usd",
            ]
        )
        index = await raw.notification("deribit_price_index.btc_usd")
        assert index["index_name"] == "btc_usd"
        assert index["price"] > 0
        ticker = await raw.notification("ticker.BTC-PERPETUAL.100ms")
        bought = await raw.call(
            "private/buy",
            instrument_name="BTC-PERPETUAL",
            amount=100,
            type="limit",
            price=round(ticker["best_ask_price"] * 1.005 * 2) / 2,
            label="raw-ws",
        )
        order_id = bought["result"]["order"]["order_id"]
        update = await raw.notification("user.orders.any.any.raw")
        assert update["order_id"] == order_id
        changes = await raw.notification("user.changes.future.BTC.raw")
        assert changes["instrument_name"] == "BTC-PERPETUAL"
        assert {"orders", "trades", "positions"} <= set(changes)
        portfolio = await raw.notification("user.portfolio.btc")
        assert portfolio["currency"] == "BTC"
        dropped = await raw.call("public/unsubscribe", channels=["ticker.BTC-PERPETUAL.100ms"])
        assert dropped["result"] == ["ticker.BTC-PERPETUAL.100ms"]
        (session,) = server.hub.sessions
        assert "ticker.BTC-PERPETUAL.100ms" not in session.channels
        assert (await raw.call("private/logout"))["result"] == "ok"
        while (message := await asyncio.wait_for(ws.receive(), WAIT)).type == (
            aiohttp.WSMsgType.TEXT
        ):
            pass  # notifications queued before the logout
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_heartbeat_closes_connections_that_do_not_answer(server: DeribitSimServer) -> None:
    """After set_heartbeat, test requests come; answering keeps the socket, silence closes it."""
    async with aiohttp.ClientSession() as http, http.ws_connect(server.ws_url) as ws:
        raw = RawClient(ws)
        assert (await raw.call("public/set_heartbeat", interval=0.3))["result"] == "ok"
        for _ in range(2):
            frame = await raw.receive()
            assert frame == {
                "jsonrpc": "2.0",
                "method": "heartbeat",
                "params": {"type": "test_request"},
            }
            assert "version" in (await raw.call("public/test"))["result"]
        assert (await raw.receive())["params"]["type"] == "test_request"
        closing = await asyncio.wait_for(ws.receive(), WAIT)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
