"""The aiohttp server of the local Binance USDⓈ-M exchange: REST, market and user-data websockets.

Owns `BinanceUsdmServer`: binding on 127.0.0.1 (port 0 picks a free port), Binance's
authentication (``X-MBX-APIKEY`` header; HMAC-SHA256 of the query string or form body, hex, as
the last ``signature`` parameter; ``timestamp`` within ``recvWindow``, 5000 ms by default), the
REST routes ccxt's ``binanceusdm`` calls (``/fapi/v1``, ``/fapi/v2``, ``/fapi/v3``, two
``/sapi/v1`` reads), the market streams (``/ws``, ``/public/ws``, ``/market/ws``: ``SUBSCRIBE``
to ``<symbol>@bookTicker`` and ``<symbol>@markPrice@1s``) and the user-data stream
(``/private/ws?listenKey=`` as ccxt 4.5.90 connects, and the documented ``/ws/<listenKey>``) with
``ORDER_TRADE_UPDATE`` events. Errors are Binance's ``{"code": ..., "msg": ...}`` with its HTTP
statuses (400, 401, 404; 429 with ``Retry-After`` for rate limits).

A tick (``tick_s``) moves the prices, fills resting orders, pushes book tickers and user events,
and closes every websocket when `FaultPlan.drop_websockets` is set. Faults armed in ``faults``
apply to REST requests. It must not implement order rules (see `ledger`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import structlog
from aiohttp import WSMsgType, web

from hedgebot_localvenues.binance_usdm import wire
from hedgebot_localvenues.binance_usdm.ledger import Ledger, Rejection
from hedgebot_localvenues.binance_usdm.markets import CONTRACTS, Contract, exchange_info
from hedgebot_localvenues.common.faults import FaultPlan
from hedgebot_localvenues.common.prices import PricePath
from hedgebot_localvenues.common.requestlog import RequestLog

_log = structlog.get_logger(__name__)
DEFAULT_RECV_WINDOW_MS = 5000
Handler = Callable[[str | None, Mapping[str, str]], Any]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key pair of an account of the local exchange (a test key, never a real one)."""

    account: str
    key: str
    secret: str
    can_withdraw: bool = True


@dataclass(slots=True)
class _Socket:
    ws: web.WebSocketResponse
    streams: set[str] = field(default_factory=set)
    account: str | None = None


class BinanceUsdmServer:
    """A Binance USDⓈ-M futures endpoint on 127.0.0.1 in front of `Ledger`."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        prices: PricePath,
        keys: list[ApiKey],
        host: str = "127.0.0.1",
        port: int = 0,
        tick_s: float = 0.2,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.ledger = ledger
        self.prices = prices
        self._keys = {k.key: k for k in keys}
        self._host = host
        self._port = port
        self._tick_s = tick_s
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.faults = FaultPlan()
        self.requests = RequestLog()
        self._listen_keys: dict[str, str] = {}
        self._sockets: list[_Socket] = []
        self.user_stream_opened = asyncio.Event()
        """Set when a user-data stream (a websocket with a listen key) connects."""
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.bound_port = 0
        self._routes: dict[tuple[str, str], tuple[bool, Handler]] = self._route_table()

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The REST origin (give it to hedgebot as ``rest_url``)."""
        return f"http://{self._host}:{self.bound_port}"

    @property
    def ws_url(self) -> str:
        """The websocket origin (give it to hedgebot as ``ws_url``)."""
        return f"ws://{self._host}:{self.bound_port}"

    async def start(self) -> None:
        """Bind and start ticking."""
        self._tick()
        app = web.Application()
        app.router.add_route("*", "/fapi/{rest:.*}", self._rest)
        app.router.add_route("*", "/sapi/{rest:.*}", self._rest)
        for prefix in ("", "/public", "/market", "/private"):
            app.router.add_get(f"{prefix}/ws", self._websocket)
            app.router.add_get(f"{prefix}/ws/{{tail}}", self._websocket)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.bound_port = sockets[0].getsockname()[1] if sockets else self._port
        self._ticker = asyncio.create_task(self._tick_forever())
        _log.info("binanceusdm.listening", url=self.url)

    async def stop(self) -> None:
        """Close every socket and stop."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for socket in list(self._sockets):
            await socket.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> BinanceUsdmServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- ticking -----------------------------------------------------------------------------

    def _tick(self) -> None:
        now = self._clock_ms()
        self.prices.advance(now)
        for symbol, contract in self.ledger.contracts.items():
            index = self.prices.index(contract.base)
            if index is not None:
                self.ledger.set_index(symbol, index, now)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            self._tick()
            if self.faults.drop_websockets:
                self.faults.drop_websockets = False
                for socket in list(self._sockets):
                    await socket.ws.close()
                continue
            await self._push_market()
            await self._push_user_events()

    async def _push_market(self) -> None:
        now = self._clock_ms()
        for socket in list(self._sockets):
            for stream in list(socket.streams):
                symbol, _, channel = stream.partition("@")
                contract = self.ledger.contracts.get(symbol.upper())
                if contract is None:
                    continue
                frame = self._market_frame(contract, channel, now)
                if frame is not None:
                    await _send(socket, frame)

    def _market_frame(self, contract: Contract, channel: str, now: int) -> dict[str, Any] | None:
        touch = self.ledger.touches.get(contract.symbol)
        if touch is None:
            return None
        if channel == "bookTicker":
            return {
                "e": "bookTicker",
                "u": now,
                "s": contract.symbol,
                "b": f"{touch.bid:.{contract.price_precision}f}",
                "B": "5.000",
                "a": f"{touch.ask:.{contract.price_precision}f}",
                "A": "5.000",
                "T": now,
                "E": now,
            }
        if channel.startswith("markPrice"):
            mark = self.ledger.marks[contract.symbol]
            return {
                "e": "markPriceUpdate",
                "E": now,
                "s": contract.symbol,
                "p": wire.num(mark),
                "i": wire.num(mark),
                "P": wire.num(mark),
                "r": "0.00010000",
                "T": _next_funding_ms(now),
            }
        return None

    def _push_user_now(self, account: str | None) -> None:
        """A new user-data socket sees only later events, as on Binance."""
        if account is not None:
            self.ledger.events = [e for e in self.ledger.events if e[0] != account]

    async def _push_user_events(self) -> None:
        events, self.ledger.events = self.ledger.events, []
        now = self._clock_ms()
        for account, order, trade in events:
            frame = wire.order_trade_update(order, trade, now_ms=now)
            for socket in list(self._sockets):
                if socket.account == account:
                    await _send(socket, frame)

    # -- REST --------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        method = request.method
        query_string = request.query_string
        body = await request.text() if request.can_read_body else ""
        route = self._routes.get((method, path))
        raw = "&".join(part for part in (query_string, body) if part)
        params = dict(parse_qsl(raw, keep_blank_values=True))
        private = route[0] if route is not None else False
        fault = self.faults.take(method, path)
        if fault is not None and fault.kind == "reject_before":
            self.requests.record(method, path, private=private, params=params, outcome="dropped")
            await _drop(request)
        if fault is not None and fault.kind == "rate_limit":
            self.requests.record(method, path, private=private, params=params, outcome="429")
            return _error(
                Rejection(
                    -1003, "Too many requests; current limit is 2400 requests per minute.", 429
                ),
                headers={"Retry-After": "1"},
            )
        if fault is not None and fault.kind == "error":
            self.requests.record(method, path, private=private, params=params, outcome="error")
            return _error(Rejection(fault.code, fault.message))
        if route is None:
            self.requests.record(method, path, private=False, params=params, outcome="404")
            return web.json_response(
                {"code": -5000, "msg": f"Path {path}, Method {method} is invalid"}, status=404
            )
        try:
            account = self._authenticate(request, path, raw, params) if private else None
            answer = route[1](account, params)
            if isinstance(answer, Awaitable):
                answer = await answer
        except Rejection as rejection:
            self.requests.record(
                method, path, private=private, params=params, outcome=str(rejection.code)
            )
            return _error(rejection)
        if fault is not None and fault.kind == "lose_answer":
            self.requests.record(method, path, private=private, params=params, outcome="lost")
            await _drop(request)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
        self.requests.record(method, path, private=private, params=params)
        return web.json_response(answer)

    def _authenticate(
        self, request: web.Request, path: str, raw: str, params: Mapping[str, str]
    ) -> str:
        key = self._keys.get(request.headers.get("X-MBX-APIKEY", ""))
        if key is None:
            raise Rejection(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        if path.endswith("/listenKey"):
            return key.account
        signed, _, signature = raw.rpartition("&signature=")
        expected = hmac.new(key.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not signature or not hmac.compare_digest(signature, expected):
            raise Rejection(-1022, "Signature for this request is not valid.")
        try:
            timestamp = int(params["timestamp"])
            window = int(params.get("recvWindow", DEFAULT_RECV_WINDOW_MS))
        except (KeyError, ValueError):
            raise Rejection(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            ) from None
        now = self._clock_ms()
        if timestamp > now + 1000 or now - timestamp > window:
            raise Rejection(-1021, "Timestamp for this request is outside of the recvWindow.")
        return key.account

    def _route_table(self) -> dict[tuple[str, str], tuple[bool, Handler]]:
        public = {
            "/fapi/v1/ping": lambda a, p: {},
            "/fapi/v1/time": lambda a, p: {"serverTime": self._clock_ms()},
            "/fapi/v1/exchangeInfo": lambda a, p: exchange_info(
                self.ledger.contracts, server_time_ms=self._clock_ms()
            ),
            "/fapi/v1/ticker/24hr": self._ticker_24hr,
            "/fapi/v1/ticker/bookTicker": self._book_ticker,
            "/fapi/v1/premiumIndex": self._premium_index,
        }
        private_get = {
            "/fapi/v3/account": self._account,
            "/fapi/v2/account": self._account,
            "/fapi/v3/balance": self._balance,
            "/fapi/v2/balance": self._balance,
            "/fapi/v3/positionRisk": self._position_risk,
            "/fapi/v2/positionRisk": self._position_risk,
            "/fapi/v1/leverageBracket": lambda a, p: wire.leverage_brackets(self.ledger),
            "/fapi/v1/positionSide/dual": lambda a, p: {
                "dualSidePosition": self.ledger.accounts[a or ""].dual_side
            },
            "/fapi/v1/order": self._query_order,
            "/fapi/v1/openOrders": self._open_orders,
            "/fapi/v1/allOrders": self._all_orders,
            "/fapi/v1/userTrades": self._user_trades,
            "/sapi/v1/account/apiRestrictions": self._api_restrictions,
            "/sapi/v1/capital/config/getall": lambda a, p: [],
            "/sapi/v1/margin/allPairs": lambda a, p: [],
        }
        table: dict[tuple[str, str], tuple[bool, Handler]] = {}
        for path, handler in public.items():
            table[("GET", path)] = (False, handler)
        for path, handler in private_get.items():
            table[("GET", path)] = (True, handler)
        table[("POST", "/fapi/v1/order")] = (True, self._new_order)
        table[("DELETE", "/fapi/v1/order")] = (True, self._cancel_order)
        table[("POST", "/fapi/v1/listenKey")] = (True, self._listen_key)
        table[("PUT", "/fapi/v1/listenKey")] = (True, self._listen_key)
        table[("DELETE", "/fapi/v1/listenKey")] = (True, lambda a, p: {})
        return table

    def _contract(self, params: Mapping[str, str]) -> Contract:
        symbol = params.get("symbol")
        if symbol is None:
            raise Rejection(
                -1102, "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."
            )
        contract = self.ledger.contracts.get(symbol)
        if contract is None:
            raise Rejection(-1121, "Invalid symbol.")
        return contract

    def _ticker_24hr(self, account: str | None, params: Mapping[str, str]) -> Any:
        now = self._clock_ms()
        rows = [self._ticker_row(c, now) for c in self.ledger.contracts.values()]
        if "symbol" in params:
            return self._ticker_row(self._contract(params), now)
        return rows

    def _ticker_row(self, c: Contract, now: int) -> dict[str, Any]:
        mark = self.ledger.marks.get(c.symbol, 0.0)
        return {
            "symbol": c.symbol,
            "priceChange": "0",
            "priceChangePercent": "0",
            "weightedAvgPrice": wire.num(mark, 2),
            "lastPrice": wire.num(mark, 2),
            "lastQty": "0.001",
            "openPrice": wire.num(mark, 2),
            "highPrice": wire.num(mark, 2),
            "lowPrice": wire.num(mark, 2),
            "volume": "0",
            "quoteVolume": "0",
            "openTime": now - 86_400_000,
            "closeTime": now,
            "firstId": 1,
            "lastId": 1,
            "count": 1,
        }

    def _book_ticker(self, account: str | None, params: Mapping[str, str]) -> Any:
        now = self._clock_ms()
        contracts = (
            [self._contract(params)] if "symbol" in params else list(self.ledger.contracts.values())
        )
        rows = []
        for c in contracts:
            touch = self.ledger.touches[c.symbol]
            rows.append(
                {
                    "symbol": c.symbol,
                    "bidPrice": f"{touch.bid:.{c.price_precision}f}",
                    "bidQty": "5.000",
                    "askPrice": f"{touch.ask:.{c.price_precision}f}",
                    "askQty": "5.000",
                    "time": now,
                    "lastUpdateId": now,
                }
            )
        return rows[0] if "symbol" in params else rows

    def _premium_index(self, account: str | None, params: Mapping[str, str]) -> Any:
        now = self._clock_ms()
        contracts = (
            [self._contract(params)] if "symbol" in params else list(self.ledger.contracts.values())
        )
        rows = [
            {
                "symbol": c.symbol,
                "markPrice": wire.num(self.ledger.marks[c.symbol]),
                "indexPrice": wire.num(self.ledger.marks[c.symbol]),
                "estimatedSettlePrice": wire.num(self.ledger.marks[c.symbol]),
                "lastFundingRate": "0.00010000",
                "interestRate": "0.00010000",
                "nextFundingTime": _next_funding_ms(now),
                "time": now,
            }
            for c in contracts
        ]
        return rows[0] if "symbol" in params else rows

    def _account(self, account: str | None, params: Mapping[str, str]) -> Any:
        return wire.account_info(
            self.ledger, self.ledger.accounts[account or ""], now_ms=self._clock_ms()
        )

    def _balance(self, account: str | None, params: Mapping[str, str]) -> Any:
        info = self._account(account, params)
        asset = info["assets"][0]
        return [
            {
                "accountAlias": "SgsR",
                "asset": "USDT",
                "balance": asset["walletBalance"],
                "crossWalletBalance": asset["crossWalletBalance"],
                "crossUnPnl": asset["crossUnPnl"],
                "availableBalance": asset["availableBalance"],
                "maxWithdrawAmount": asset["maxWithdrawAmount"],
                "marginAvailable": True,
                "updateTime": asset["updateTime"],
            }
        ]

    def _position_risk(self, account: str | None, params: Mapping[str, str]) -> Any:
        rows = wire.position_risk(self.ledger, self.ledger.accounts[account or ""])
        if "symbol" in params:
            rows = [r for r in rows if r["symbol"] == params["symbol"]]
        return rows

    def _new_order(self, account: str | None, params: Mapping[str, str]) -> Any:
        contract = self._contract(params)
        try:
            quantity = float(params["quantity"])
            price = float(params["price"]) if "price" in params else None
        except (KeyError, ValueError):
            raise Rejection(
                -1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed."
            ) from None
        client_id = params.get("newClientOrderId") or f"local-{secrets.token_hex(8)}"
        if len(client_id) > 36:
            raise Rejection(-4015, "Client order id is not valid.")
        order = self.ledger.place(
            account or "",
            symbol=contract.symbol,
            side=params.get("side", ""),
            order_type=params.get("type", ""),
            quantity=quantity,
            price=price,
            position_side=params.get("positionSide"),
            reduce_only=params.get("reduceOnly", "false").lower() == "true",
            client_id=client_id,
            time_in_force=params.get("timeInForce", "GTC"),
            now_ms=self._clock_ms(),
        )
        return wire.order(order)

    def _find(self, account: str | None, params: Mapping[str, str]) -> Any:
        contract = self._contract(params)
        order_id = params.get("orderId")
        client_id = params.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise Rejection(-1102, "Either orderId or origClientOrderId must be sent.")
        return self.ledger.find(
            account or "", contract.symbol, int(order_id) if order_id else None, client_id
        )

    def _query_order(self, account: str | None, params: Mapping[str, str]) -> Any:
        return wire.order(self._find(account, params))

    def _cancel_order(self, account: str | None, params: Mapping[str, str]) -> Any:
        try:
            order = self._find(account, params)
        except Rejection:
            raise Rejection(-2011, "Unknown order sent.") from None
        return wire.order(self.ledger.cancel(account or "", order, self._clock_ms()))

    def _orders(self, account: str | None, params: Mapping[str, str], *, open_only: bool) -> Any:
        symbol = params.get("symbol")
        if symbol is not None:
            self._contract(params)
        orders = [
            o
            for o in self.ledger.accounts[account or ""].orders.values()
            if (symbol is None or o.symbol == symbol) and (o.open or not open_only)
        ]
        since = int(params.get("startTime", 0))
        limit = int(params.get("limit", 500))
        chosen = sorted((o for o in orders if o.time_ms >= since), key=lambda o: o.time_ms)
        return [wire.order(o) for o in chosen[-limit:]]

    def _open_orders(self, account: str | None, params: Mapping[str, str]) -> Any:
        return self._orders(account, params, open_only=True)

    def _all_orders(self, account: str | None, params: Mapping[str, str]) -> Any:
        self._contract(params)
        return self._orders(account, params, open_only=False)

    def _user_trades(self, account: str | None, params: Mapping[str, str]) -> Any:
        contract = self._contract(params)
        since = int(params.get("startTime", 0))
        order_id = params.get("orderId")
        limit = min(int(params.get("limit", 500)), 1000)
        trades = [
            t
            for t in self.ledger.accounts[account or ""].trades
            if t.order.symbol == contract.symbol
            and t.time_ms >= since
            and (order_id is None or t.order.order_id == int(order_id))
        ]
        return [wire.trade(t) for t in trades[:limit]]

    def _api_restrictions(self, account: str | None, params: Mapping[str, str]) -> Any:
        key = next(k for k in self._keys.values() if k.account == account)
        return {
            "ipRestrict": False,
            "createTime": 1698645219000,
            "enableReading": True,
            "enableWithdrawals": key.can_withdraw,
            "enableInternalTransfer": False,
            "enableMargin": False,
            "enableFutures": True,
            "permitsUniversalTransfer": False,
            "enableVanillaOptions": False,
            "enableFixApiTrade": False,
            "enableFixReadOnly": False,
            "enableSpotAndMarginTrading": False,
            "enablePortfolioMarginTrading": False,
        }

    def _listen_key(self, account: str | None, params: Mapping[str, str]) -> Any:
        for listen_key, owner in self._listen_keys.items():
            if owner == account:
                return {"listenKey": listen_key}
        listen_key = secrets.token_urlsafe(48)
        self._listen_keys[listen_key] = account or ""
        return {"listenKey": listen_key}

    # -- websockets --------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        tail = request.match_info.get("tail")
        listen_key = request.query.get("listenKey")
        if listen_key is None and tail in self._listen_keys:
            listen_key = tail  # the documented /ws/<listenKey>
        account = None
        if listen_key is not None:
            account = self._listen_keys.get(listen_key)
            if account is None:
                raise web.HTTPBadRequest(
                    text='{"code":-1125,"msg":"This listenKey does not exist."}'
                )
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        socket = _Socket(ws=ws, account=account)
        self._push_user_now(account)
        if account is not None:
            self.user_stream_opened.set()
        if tail and listen_key is None and "@" in tail:
            socket.streams.add(tail)  # /ws/<streamName>: a raw stream without SUBSCRIBE
        self._sockets.append(socket)
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                await self._on_ws_message(socket, message.data)
        finally:
            self._sockets.remove(socket)
        return ws

    async def _on_ws_message(self, socket: _Socket, text: str) -> None:
        try:
            message = json.loads(text)
            method = message["method"]
            streams = [str(s) for s in message.get("params", [])]
            request_id = message.get("id")
        except (ValueError, KeyError, TypeError):
            await _send(socket, {"error": {"code": 2, "msg": "Invalid request"}})
            return
        if method == "SUBSCRIBE":
            socket.streams.update(s for s in streams)
        elif method == "UNSUBSCRIBE":
            socket.streams.difference_update(streams)
        elif method == "LIST_SUBSCRIPTIONS":
            await _send(socket, {"result": sorted(socket.streams), "id": request_id})
            return
        else:
            await _send(
                socket, {"error": {"code": 1, "msg": f"Unknown method {method}"}, "id": request_id}
            )
            return
        await _send(socket, {"result": None, "id": request_id})
        now = self._clock_ms()
        for stream in streams:  # the current value at once, as Binance does on its next event
            symbol, _, channel = stream.partition("@")
            contract = self.ledger.contracts.get(symbol.upper())
            frame = None if contract is None else self._market_frame(contract, channel, now)
            if frame is not None:
                await _send(socket, frame)


async def _send(socket: _Socket, frame: Mapping[str, Any]) -> None:
    if socket.ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await socket.ws.send_str(json.dumps(frame))


async def _drop(request: web.Request) -> None:
    """Close the connection without answering (the client sees a dropped connection)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError


def _error(rejection: Rejection, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"code": rejection.code, "msg": rejection.msg}, status=rejection.status, headers=headers
    )


def _next_funding_ms(now: int) -> int:
    period = 8 * 3600 * 1000
    return (now // period + 1) * period


def default_contracts() -> dict[str, Contract]:
    """Every contract the local exchange lists by default."""
    return dict(CONTRACTS)
