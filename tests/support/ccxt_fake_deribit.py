"""A small scriptable Deribit-protocol endpoint on 127.0.0.1 for the ccxt gateway's I/O tests.

JSON-RPC over HTTP GET at ``/api/v2/<scope>/<method>`` and a websocket at ``/ws/api/v2``, serving
recorded payloads (tests/data/deribit) and just enough order state for the gateway's order entry.
Each websocket connection follows the next entry of ``ws_modes``:

* ``stream``: push a ticker notification every 20 ms for each subscribed ticker channel;
* ``stall``: push two notifications, then one JSON-RPC error frame, then stay open and silent
  (ccxt's receive loop dies on the error frame: the "silent stall" of docs/venues.md);
* ``drop``: push two notifications, then close the connection;
* ``bad``: like ``stream`` but every other notification has a crossed book.

Ticker notifications carry ``mark_price = recorded mark + connection number`` so tests can tell
which connection a quote came from. This is not the project's exchange simulator.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.ccxt_recorded import load_json


@dataclass
class FakeOrder:
    """One order held by the fake venue."""

    order_id: str
    label: str
    instrument: str
    direction: str
    amount: float
    price: float
    state: str = "open"
    created_ms: int = field(default_factory=lambda: int(time.time() * 1000))

    def as_deribit(self) -> dict[str, Any]:
        """The order as Deribit's ``private/*`` methods return it."""
        return {
            "order_id": self.order_id,
            "label": self.label,
            "instrument_name": self.instrument,
            "direction": self.direction,
            "amount": self.amount,
            "price": self.price,
            "order_state": self.state,
            "order_type": "limit",
            "time_in_force": "good_til_cancelled",
            "filled_amount": 0.0,
            "average_price": 0.0,
            "creation_timestamp": self.created_ms,
            "last_update_timestamp": self.created_ms,
            "post_only": False,
            "reduce_only": False,
            "api": True,
        }


class FakeDeribit:
    """The scriptable endpoint; inspect its attributes after a test."""

    def __init__(self) -> None:
        self.ws_modes: list[str] = []
        self.ws_connections = 0
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.buy_peers: list[Any] = []
        self.orders: list[FakeOrder] = []
        self.trades: list[dict[str, Any]] = []
        self.positions: list[dict[str, Any]] = load_json("deribit/get_positions_docs_example.json")[
            "result"
        ]
        self.errors: dict[str, list[tuple[int, str]]] = {}
        """Method -> JSON-RPC errors to answer, in order, before behaving normally."""
        self.buy_delay_s = 0.0
        self.buy_creates = 1
        """Orders created per private/buy (2 reproduces the silent duplicate)."""
        self._ids = itertools.count(1)
        self._ticker = load_json("deribit/ws_ticker_perpetual.json")["params"]["data"]
        self._order_sockets: list[web.WebSocketResponse] = []
        self.orders_subscribed = asyncio.Event()
        """Set once a client subscribed to ``user.orders``."""

    def count(self, method: str) -> int:
        """How many HTTP calls of `method` (e.g. ``private/buy``) arrived."""
        return sum(1 for name, _ in self.calls if name == method)

    async def handle_http(self, request: web.Request) -> web.Response:
        method = f"{request.match_info['scope']}/{request.match_info['method']}"
        params = dict(request.query)
        self.calls.append((method, params))
        queued = self.errors.get(method)
        if queued:
            code, message = queued.pop(0)
            return _rpc({"error": {"code": code, "message": message}}, status=400)
        if method in ("private/buy", "private/sell"):
            self.buy_peers.append(
                request.transport.get_extra_info("peername") if request.transport else None
            )
            return await self._create(method, params)
        return _rpc({"result": self._answer(method, params)})

    def _answer(self, method: str, params: dict[str, str]) -> Any:
        if method == "public/get_currencies":
            return []
        if method == "public/get_instruments":
            return load_json("deribit/instruments.json")["result"]
        if method == "public/ticker":
            return {**self._ticker, "timestamp": _now_ms()}
        if method == "private/get_positions":
            return self.positions
        if method == "private/get_account_summaries":
            return load_json("deribit/account_summaries.json")["result"]
        if method == "private/get_order_state_by_label":
            return [o.as_deribit() for o in self.orders if o.label == params.get("label")]
        if method == "private/get_open_orders_by_currency":
            return [o.as_deribit() for o in self.orders if o.state == "open"]
        if method == "private/get_order_history_by_instrument":
            return [o.as_deribit() for o in self.orders if o.state != "open"]
        if method == "private/get_user_trades_by_currency_and_time":
            return {"trades": self.trades, "has_more": False}
        if method == "private/cancel":
            return self._cancel_order(params.get("order_id", ""))
        if method == "private/cancel_by_label":
            return self._cancel_label(params.get("label", ""))
        raise web.HTTPNotFound(text=method)

    async def _create(self, method: str, params: dict[str, str]) -> web.Response:
        created = [
            FakeOrder(
                order_id=f"BTC-{next(self._ids)}",
                label=params.get("label", ""),
                instrument=params["instrument_name"],
                direction="buy" if method == "private/buy" else "sell",
                amount=float(params["amount"]),
                price=float(params["price"]),
            )
            for _ in range(self.buy_creates)
        ]
        self.orders += created
        for order in created:
            await self._push_order(order)
        if self.buy_delay_s:
            await asyncio.sleep(self.buy_delay_s)
        if not created:
            return _rpc({"error": {"code": 10000, "message": "nothing created"}}, status=400)
        return _rpc({"result": {"order": created[-1].as_deribit(), "trades": []}})

    def _cancel_order(self, order_id: str) -> dict[str, Any]:
        order = next((o for o in self.orders if o.order_id == order_id), None)
        if order is None or order.state != "open":
            raise _RpcError(10004, "order_not_found")
        order.state = "cancelled"
        return order.as_deribit()

    def _cancel_label(self, label: str) -> int:
        matching = [o for o in self.orders if o.label == label and o.state == "open"]
        for order in matching:
            order.state = "cancelled"
        return len(matching)

    async def _push_order(self, order: FakeOrder) -> None:
        for socket in list(self._order_sockets):
            if not socket.closed:
                await socket.send_json(
                    {
                        "jsonrpc": "2.0",
                        "method": "subscription",
                        "params": {
                            "channel": "user.orders.any.any.raw",
                            "data": order.as_deribit(),
                        },
                    }
                )

    async def handle_ws(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.ws_connections += 1
        number = self.ws_connections
        mode = self.ws_modes.pop(0) if self.ws_modes else "stream"
        pushers: list[asyncio.Task[None]] = []
        try:
            async for message in socket:
                if message.type != WSMsgType.TEXT:
                    continue
                frame = message.json()
                rpc_method = frame.get("method")
                if rpc_method == "public/auth":
                    await socket.send_json(_auth_result(frame["id"]))
                elif rpc_method in ("public/subscribe", "private/subscribe"):
                    channels = frame["params"]["channels"]
                    await socket.send_json(
                        {"jsonrpc": "2.0", "id": frame["id"], "result": channels}
                    )
                    if any(c.startswith("user.orders") for c in channels):
                        self._order_sockets.append(socket)
                        self.orders_subscribed.set()
                    for channel in (c for c in channels if c.startswith("ticker.")):
                        pushers.append(
                            asyncio.create_task(self._push_tickers(socket, channel, number, mode))
                        )
        finally:
            for task in pushers:
                task.cancel()
        return socket

    async def _push_tickers(
        self, socket: web.WebSocketResponse, channel: str, number: int, mode: str
    ) -> None:
        for sent in itertools.count():
            if mode in ("stall", "drop") and sent == 2:
                if mode == "drop":
                    await socket.close()
                    return
                await socket.send_json(
                    {
                        "jsonrpc": "2.0",
                        "id": 424242,
                        "error": {"code": -32602, "message": "Invalid params"},
                    }
                )
                return
            data = copy.deepcopy(self._ticker)
            data.update(timestamp=_now_ms(), mark_price=data["mark_price"] + number)
            if mode == "bad" and sent % 2 == 1:
                data["best_bid_price"] = data["best_ask_price"] + 100
            await socket.send_json(
                {
                    "jsonrpc": "2.0",
                    "method": "subscription",
                    "params": {"channel": channel, "data": data},
                }
            )
            await asyncio.sleep(0.02)


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _auth_result(request_id: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "result": {
            "access_token": "t",
            "refresh_token": "r",
            "expires_in": 3600,
            "token_type": "bearer",
        },
    }


def _rpc(body: dict[str, Any], *, status: int = 200) -> web.Response:
    return web.json_response({"jsonrpc": "2.0", **body}, status=status)


def _now_ms() -> int:
    return int(time.time() * 1000)


@asynccontextmanager
async def running_fake_deribit() -> AsyncIterator[tuple[FakeDeribit, str, str]]:
    """Start the fake on a free port; yield it with its REST origin and websocket URL."""
    fake = FakeDeribit()

    async def http(request: web.Request) -> web.Response:
        try:
            return await fake.handle_http(request)
        except _RpcError as exc:
            return _rpc({"error": {"code": exc.code, "message": str(exc)}}, status=400)

    app = web.Application()
    app.router.add_get("/api/v2/{scope}/{method}", http)
    app.router.add_get("/ws/api/v2", fake.handle_ws)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield fake, f"http://{host}:{port}", f"ws://{host}:{port}/ws/api/v2"
    finally:
        await runner.cleanup()
