"""The aiohttp server of the local Bybit v5 exchange: REST, public and private websockets.

Owns `BybitServer`: Bybit v5 authentication (headers ``X-BAPI-API-KEY``, ``X-BAPI-TIMESTAMP``,
``X-BAPI-RECV-WINDOW``, ``X-BAPI-SIGN`` = hex HMAC-SHA256 of timestamp + key + recv window +
query string or JSON body; websocket ``auth`` with HMAC of ``GET/realtime`` + expires), the
REST routes ccxt's ``bybit`` calls for linear perpetuals, the public stream
``/v5/public/linear`` (``tickers.<symbol>``) and the private stream ``/v5/private`` (``order``,
``execution``). Answers use Bybit's envelope ``{"retCode", "retMsg", "result", "retExtInfo",
"time"}``; refusals carry Bybit's codes (HTTP 200, as Bybit answers them).

Matching, positions and order checks are the shared `Ledger` of the local Binance exchange (one
engine, one-way mode); its refusals are translated to Bybit's codes here. Faults armed in
``faults`` apply to REST requests; ``faults.drop_websockets`` closes every socket.
It must not import ccxt.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import structlog
from aiohttp import WSMsgType, web

from hedgebot_localvenues.binance_usdm.ledger import Ledger, Order, Rejection, Trade
from hedgebot_localvenues.binance_usdm.markets import Contract
from hedgebot_localvenues.binance_usdm.wire import num
from hedgebot_localvenues.common.faults import FaultPlan
from hedgebot_localvenues.common.prices import PricePath
from hedgebot_localvenues.common.requestlog import RequestLog

_log = structlog.get_logger(__name__)
RECV_WINDOW_MS = 5000

CONTRACTS: dict[str, Contract] = {
    "BTCUSDT": Contract(
        symbol="BTCUSDT",
        base="BTC",
        tick_size="0.10",
        step_size="0.001",
        min_qty="0.001",
        max_qty="1190",
        min_notional="5",
        maint_rate=0.005,
        price_precision=2,
        quantity_precision=3,
    ),
    "ETHUSDT": Contract(
        symbol="ETHUSDT",
        base="ETH",
        tick_size="0.01",
        step_size="0.01",
        min_qty="0.01",
        max_qty="7240",
        min_notional="5",
        maint_rate=0.005,
        price_precision=2,
        quantity_precision=2,
    ),
}
"""Bybit's published filters for its BTCUSDT and ETHUSDT perpetuals at the time of writing."""

_CODES = {
    -4014: (10001, "params error: price must be a multiple of the tick size"),
    -1013: (10001, "params error: qty must be a multiple of qtyStep"),
    -4003: (10001, "params error: qty below minOrderQty or above maxOrderQty"),
    -4164: (110094, "Order does not meet minimum order value"),
    -2022: (110017, "Reduce-only rule not satisfied"),
    -4116: (110072, "OrderLinkedID is duplicate"),
    -2019: (110007, "Available balance insufficient"),
    -2013: (110001, "Order does not exist"),
    -2011: (110001, "Order does not exist"),
    -1121: (10001, "params error: symbol invalid"),
    -1116: (10001, "params error: orderType invalid"),
    -1117: (10001, "params error: side invalid"),
    -4061: (10001, "position idx not match position mode"),
}
"""The shared ledger's refusals (Binance codes) as Bybit v5 answers them."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key pair of an account (a local test key)."""

    account: str
    key: str
    secret: str


class BybitError(Exception):
    """A Bybit refusal: retCode and retMsg."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg


@dataclass(slots=True)
class _Socket:
    ws: web.WebSocketResponse
    private: bool
    topics: set[str] = field(default_factory=set)
    account: str | None = None


class BybitServer:
    """A Bybit v5 endpoint on 127.0.0.1 in front of the shared `Ledger`."""

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
        self._sockets: list[_Socket] = []
        self.private_stream_opened = asyncio.Event()
        """Set when a private websocket has authenticated and subscribed."""
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.bound_port = 0

    @property
    def url(self) -> str:
        """The REST origin (hedgebot's ``rest_url``)."""
        return f"http://{self._host}:{self.bound_port}"

    @property
    def ws_url(self) -> str:
        """The websocket origin (hedgebot's ``ws_url``)."""
        return f"ws://{self._host}:{self.bound_port}"

    async def start(self) -> None:
        """Bind and start ticking."""
        self._tick()
        app = web.Application()
        app.router.add_route("*", "/v5/{rest:.*}", self._rest)
        app.router.add_get("/v5/public/linear", self._websocket)
        app.router.add_get("/v5/private", self._websocket)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.bound_port = int(self._runner.addresses[0][1])
        self._ticker = asyncio.create_task(self._tick_forever())
        _log.info("bybit.listening", url=self.url)

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

    async def __aenter__(self) -> BybitServer:
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
            now = self._clock_ms()
            for socket in list(self._sockets):
                for topic in sorted(socket.topics):
                    if topic.startswith("tickers."):
                        frame = self._ticker_frame(topic.removeprefix("tickers."), now)
                        if frame is not None:
                            await _send(socket, frame)
            events, self.ledger.events = self.ledger.events, []
            for account, order, trade in events:
                for socket in list(self._sockets):
                    if socket.account != account:
                        continue
                    if "order" in socket.topics:
                        await _send(socket, self._private("order", [self._order(order)], now))
                    if trade is not None and "execution" in socket.topics:
                        await _send(
                            socket, self._private("execution", [self._execution(trade)], now)
                        )

    def _ticker_frame(self, symbol: str, now: int) -> dict[str, Any] | None:
        contract = self.ledger.contracts.get(symbol)
        touch = self.ledger.touches.get(symbol)
        if contract is None or touch is None:
            return None
        mark = self.ledger.marks[symbol]
        places = contract.price_precision
        return {
            "topic": f"tickers.{symbol}",
            "type": "snapshot",
            "data": {
                "symbol": symbol,
                "tickDirection": "ZeroPlusTick",
                "price24hPcnt": "0",
                "lastPrice": f"{mark:.{places}f}",
                "prevPrice24h": f"{mark:.{places}f}",
                "highPrice24h": f"{mark:.{places}f}",
                "lowPrice24h": f"{mark:.{places}f}",
                "prevPrice1h": f"{mark:.{places}f}",
                "markPrice": f"{mark:.{places}f}",
                "indexPrice": f"{mark:.{places}f}",
                "openInterest": "0",
                "openInterestValue": "0",
                "turnover24h": "0",
                "volume24h": "0",
                "nextFundingTime": str((now // 28_800_000 + 1) * 28_800_000),
                "fundingRate": "0.0001",
                "bid1Price": f"{touch.bid:.{places}f}",
                "bid1Size": "5",
                "ask1Price": f"{touch.ask:.{places}f}",
                "ask1Size": "5",
                "fundingIntervalHour": "8",
            },
            "cs": now,
            "ts": now,
        }

    def _private(self, topic: str, data: list[dict[str, Any]], now: int) -> dict[str, Any]:
        return {"id": secrets.token_hex(8), "topic": topic, "creationTime": now, "data": data}

    # -- REST --------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        body = await request.text() if request.can_read_body else ""
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        try:
            params: dict[str, Any] = {**query, **(json.loads(body) if body else {})}
        except ValueError:
            params = dict(query)
        handler = self._routes().get((method, path))
        private = not path.startswith("/v5/market/")
        fault = self.faults.take(method, path)
        if fault is not None and fault.kind == "reject_before":
            self.requests.record(method, path, private=private, params=params, outcome="dropped")
            _drop(request)
        if fault is not None and fault.kind == "rate_limit":
            self.requests.record(method, path, private=private, params=params, outcome="429")
            return web.json_response(
                {"retCode": 10006, "retMsg": "Too many visits!"},
                status=429,
                headers={"Retry-After": "1"},
            )
        if fault is not None and fault.kind == "error":
            self.requests.record(method, path, private=private, params=params, outcome="error")
            return self._envelope(None, code=fault.code, msg=fault.message)
        if handler is None:
            self.requests.record(method, path, private=private, params=params, outcome="404")
            return web.json_response({"retCode": 10001, "retMsg": "route not found"}, status=404)
        try:
            account = (
                self._authenticate(request, request.query_string if method == "GET" else body)
                if private
                else None
            )
            result = handler(account, params)
        except BybitError as error:
            self.requests.record(
                method, path, private=private, params=params, outcome=str(error.code)
            )
            return self._envelope(None, code=error.code, msg=error.msg)
        except Rejection as rejection:
            code, msg = _CODES.get(rejection.code, (10001, rejection.msg))
            self.requests.record(method, path, private=private, params=params, outcome=str(code))
            return self._envelope(None, code=code, msg=msg)
        if fault is not None and fault.kind == "lose_answer":
            self.requests.record(method, path, private=private, params=params, outcome="lost")
            _drop(request)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
        self.requests.record(method, path, private=private, params=params)
        return self._envelope(result)

    def _envelope(self, result: Any, *, code: int = 0, msg: str = "OK") -> web.Response:
        return web.json_response(
            {
                "retCode": code,
                "retMsg": msg,
                "result": {} if result is None else result,
                "retExtInfo": {},
                "time": self._clock_ms(),
            }
        )

    def _authenticate(self, request: web.Request, payload: str) -> str:
        key = self._keys.get(request.headers.get("X-BAPI-API-KEY", ""))
        if key is None:
            raise BybitError(10003, "API key is invalid.")
        timestamp = request.headers.get("X-BAPI-TIMESTAMP", "")
        window = request.headers.get("X-BAPI-RECV-WINDOW", str(RECV_WINDOW_MS))
        signed = f"{timestamp}{key.key}{window}{payload}"
        expected = hmac.new(key.secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-BAPI-SIGN", ""), expected):
            raise BybitError(10004, "error sign! origin_string[" + "redacted" + "]")
        try:
            age = self._clock_ms() - int(timestamp)
        except ValueError:
            raise BybitError(10002, "invalid request, please check your timestamp") from None
        if age > int(window) or age < -1000:
            raise BybitError(
                10002, "invalid request, please check your server timestamp or recv_window param"
            )
        return key.account

    def _routes(self) -> dict[tuple[str, str], Callable[[str | None, Mapping[str, Any]], Any]]:
        return {
            ("GET", "/v5/market/time"): lambda a, p: {
                "timeSecond": str(self._clock_ms() // 1000),
                "timeNano": str(self._clock_ms() * 1_000_000),
            },
            ("GET", "/v5/market/instruments-info"): self._instruments,
            ("GET", "/v5/market/tickers"): self._tickers,
            ("GET", "/v5/asset/coin/query-info"): lambda a, p: {"rows": []},
            ("GET", "/v5/user/query-api"): self._query_api,
            ("GET", "/v5/account/info"): lambda a, p: {
                "unifiedMarginStatus": 4,
                "marginMode": "REGULAR_MARGIN",
                "isMasterTrader": False,
                "spotHedgingStatus": "OFF",
                "updatedTime": str(self._clock_ms()),
                "dcpStatus": "OFF",
                "timeWindow": 0,
                "smpGroup": 0,
            },
            ("GET", "/v5/account/wallet-balance"): self._wallet,
            ("GET", "/v5/position/list"): self._positions,
            ("POST", "/v5/order/create"): self._create,
            ("POST", "/v5/order/cancel"): self._cancel,
            ("GET", "/v5/order/realtime"): self._realtime,
            ("GET", "/v5/order/history"): self._history,
            ("GET", "/v5/execution/list"): self._executions,
        }

    def _instruments(self, account: str | None, params: Mapping[str, Any]) -> Any:
        category = params.get("category", "linear")
        rows = []
        if category == "linear":
            rows = [_instrument(c) for c in self.ledger.contracts.values()]
        return {"category": category, "list": rows, "nextPageCursor": ""}

    def _tickers(self, account: str | None, params: Mapping[str, Any]) -> Any:
        now = self._clock_ms()
        symbols = [params["symbol"]] if "symbol" in params else list(self.ledger.contracts)
        rows = []
        for symbol in symbols:
            frame = self._ticker_frame(str(symbol), now)
            if frame is None:
                raise BybitError(10001, "params error: symbol invalid")
            rows.append(frame["data"])
        return {"category": params.get("category", "linear"), "list": rows}

    def _query_api(self, account: str | None, params: Mapping[str, Any]) -> Any:
        return {
            "id": "1",
            "note": "local",
            "apiKey": next(k.key for k in self._keys.values() if k.account == account),
            "readOnly": 0,
            "secret": "",
            "permissions": {
                "ContractTrade": ["Order", "Position"],
                "Spot": [],
                "Wallet": [],
                "Options": [],
                "Derivatives": [],
                "CopyTrading": [],
                "BlockTrade": [],
                "Exchange": [],
                "NFT": [],
                "Affiliate": [],
            },
            "ips": ["*"],
            "type": 1,
            "deadlineDay": 90,
            "expiredAt": "",
            "createdAt": "",
            "unified": 0,
            "uta": 1,
            "userID": 1,
            "inviterID": 0,
            "vipLevel": "No VIP",
            "mktMakerLevel": "0",
            "affiliateID": 0,
            "rsaPublicKey": "",
            "isMaster": True,
        }

    def _wallet(self, account: str | None, params: Mapping[str, Any]) -> Any:
        acct = self.ledger.accounts[account or ""]
        upnl = self.ledger.unrealized(acct)
        initial = self.ledger.initial_margin(acct)
        maint = self.ledger.maint_margin(acct)
        equity = acct.wallet + upnl
        coin = {
            "coin": "USDT",
            "equity": num(equity),
            "usdValue": num(equity),
            "walletBalance": num(acct.wallet),
            "free": "",
            "locked": "0",
            "spotHedgingQty": "0",
            "borrowAmount": "0",
            "availableToWithdraw": "",
            "accruedInterest": "0",
            "totalOrderIM": "0",
            "totalPositionIM": num(initial),
            "totalPositionMM": num(maint),
            "unrealisedPnl": num(upnl),
            "cumRealisedPnl": "0",
            "bonus": "0",
            "marginCollateral": True,
            "collateralSwitch": True,
        }
        return {
            "list": [
                {
                    "accountType": "UNIFIED",
                    "accountIMRate": num(initial / equity if equity else 0.0),
                    "accountMMRate": num(maint / equity if equity else 0.0),
                    "accountLTV": "0",
                    "totalEquity": num(equity),
                    "totalWalletBalance": num(acct.wallet),
                    "totalMarginBalance": num(equity),
                    "totalAvailableBalance": num(equity - initial),
                    "totalPerpUPL": num(upnl),
                    "totalInitialMargin": num(initial),
                    "totalMaintenanceMargin": num(maint),
                    "coin": [coin],
                }
            ]
        }

    def _positions(self, account: str | None, params: Mapping[str, Any]) -> Any:
        category = params.get("category", "linear")
        acct = self.ledger.accounts[account or ""]
        rows = []
        if category == "linear" and params.get("settleCoin", "USDT") == "USDT":
            for (symbol, _), leg in sorted(acct.positions.items()):
                if leg.amount == 0 or ("symbol" in params and params["symbol"] != symbol):
                    continue
                mark = self.ledger.marks.get(symbol, leg.entry)
                value = abs(leg.amount) * mark
                # Bybit's positionValue is size × entry price (not the mark), as real payloads
                # show (tests/data/bybit/positions.json: 0.5 × 50,000 = 25,000 at mark 50,500)
                entry_value = abs(leg.amount) * leg.entry
                rows.append(
                    {
                        "positionIdx": 0,
                        "riskId": 1,
                        "riskLimitValue": "2000000",
                        "symbol": symbol,
                        "side": "Buy" if leg.amount > 0 else "Sell",
                        "size": num(abs(leg.amount)),
                        "avgPrice": num(leg.entry),
                        "positionValue": num(entry_value),
                        "tradeMode": 0,
                        "positionStatus": "Normal",
                        "autoAddMargin": 0,
                        "adlRankIndicator": 2,
                        "leverage": "20",
                        "positionBalance": num(value / 20),
                        "markPrice": num(mark),
                        "liqPrice": "",
                        "bustPrice": "",
                        "positionMM": num(value * self.ledger.contracts[symbol].maint_rate),
                        "positionIM": num(value / 20),
                        "tpslMode": "Full",
                        "takeProfit": "0",
                        "stopLoss": "0",
                        "trailingStop": "0",
                        "unrealisedPnl": num(leg.amount * (mark - leg.entry)),
                        "curRealisedPnl": "0",
                        "cumRealisedPnl": "0",
                        "seq": leg.update_ms,
                        "isReduceOnly": False,
                        "createdTime": str(leg.update_ms),
                        "updatedTime": str(leg.update_ms),
                    }
                )
        return {"category": category, "list": rows, "nextPageCursor": ""}

    def _create(self, account: str | None, params: Mapping[str, Any]) -> Any:
        if params.get("category") != "linear":
            raise BybitError(10001, "params error: category only supports linear here")
        position_idx = int(params.get("positionIdx", 0))
        if position_idx != 0:
            raise BybitError(10001, "position idx not match position mode")
        try:
            quantity = float(params["qty"])
            price = float(params["price"]) if "price" in params else None
        except (KeyError, ValueError):
            raise BybitError(10001, "params error: qty") from None
        order = self.ledger.place(
            account or "",
            symbol=str(params.get("symbol", "")),
            side=str(params.get("side", "")).upper(),
            order_type=str(params.get("orderType", "")).upper(),
            quantity=quantity,
            price=price,
            position_side=None,
            reduce_only=bool(params.get("reduceOnly", False)),
            client_id=str(params.get("orderLinkId") or secrets.token_hex(12)),
            time_in_force=str(params.get("timeInForce", "GTC")).upper(),
            now_ms=self._clock_ms(),
        )
        return {"orderId": str(order.order_id), "orderLinkId": order.client_id}

    def _find(self, account: str | None, params: Mapping[str, Any]) -> Order:
        order_id = params.get("orderId")
        return self.ledger.find(
            account or "",
            str(params.get("symbol", "")),
            int(order_id) if order_id else None,
            params.get("orderLinkId"),
        )

    def _cancel(self, account: str | None, params: Mapping[str, Any]) -> Any:
        order = self.ledger.cancel(account or "", self._find(account, params), self._clock_ms())
        return {"orderId": str(order.order_id), "orderLinkId": order.client_id}

    def _orders(self, account: str | None, params: Mapping[str, Any], *, open_only: bool) -> Any:
        acct = self.ledger.accounts[account or ""]
        rows = [
            self._order(o)
            for o in sorted(acct.orders.values(), key=lambda o: -o.time_ms)
            if ("symbol" not in params or o.symbol == params["symbol"])
            and ("orderLinkId" not in params or o.client_id == params["orderLinkId"])
            and ("orderId" not in params or str(o.order_id) == str(params["orderId"]))
            and (o.open or not open_only)
        ]
        return {
            "category": "linear",
            "list": rows[: int(params.get("limit", 50))],
            "nextPageCursor": "",
        }

    def _realtime(self, account: str | None, params: Mapping[str, Any]) -> Any:
        # Bybit's realtime query also returns recent closed orders when asked by id
        by_id = "orderId" in params or "orderLinkId" in params
        return self._orders(account, params, open_only=not by_id)

    def _history(self, account: str | None, params: Mapping[str, Any]) -> Any:
        return self._orders(account, params, open_only=False)

    def _executions(self, account: str | None, params: Mapping[str, Any]) -> Any:
        acct = self.ledger.accounts[account or ""]
        start = int(params.get("startTime", 0))
        rows = [
            self._execution(t)
            for t in reversed(acct.trades)
            if t.time_ms >= start
            and ("symbol" not in params or t.order.symbol == params["symbol"])
            and ("orderId" not in params or str(t.order.order_id) == str(params["orderId"]))
        ]
        return {
            "category": "linear",
            "list": rows[: int(params.get("limit", 50))],
            "nextPageCursor": "",
        }

    def _order(self, o: Order) -> dict[str, Any]:
        status = {
            "NEW": "New",
            "PARTIALLY_FILLED": "PartiallyFilled",
            "FILLED": "Filled",
            "CANCELED": "Cancelled",
            "EXPIRED": "Cancelled",
        }[o.status]
        return {
            "category": "linear",
            "orderId": str(o.order_id),
            "orderLinkId": o.client_id,
            "blockTradeId": "",
            "symbol": o.symbol,
            "price": num(o.price),
            "qty": num(o.quantity),
            "side": "Buy" if o.side == "BUY" else "Sell",
            "isLeverage": "",
            "positionIdx": 0,
            "orderStatus": status,
            "cancelType": "UNKNOWN",
            "rejectReason": "EC_NoError",
            "avgPrice": num(o.avg_price) if o.executed else "",
            "leavesQty": num(o.quantity - o.executed),
            "leavesValue": num((o.quantity - o.executed) * o.price),
            "cumExecQty": num(o.executed),
            "cumExecValue": num(o.cum_quote),
            "cumExecFee": "0",
            "timeInForce": o.time_in_force,
            "orderType": "Limit",
            "stopOrderType": "",
            "orderIv": "",
            "triggerPrice": "",
            "takeProfit": "",
            "stopLoss": "",
            "tpTriggerBy": "",
            "slTriggerBy": "",
            "triggerDirection": 0,
            "triggerBy": "",
            "lastPriceOnCreated": "",
            "reduceOnly": o.reduce_only,
            "closeOnTrigger": False,
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "tpslMode": "",
            "tpLimitPrice": "",
            "slLimitPrice": "",
            "placeType": "",
            "createdTime": str(o.time_ms),
            "updatedTime": str(o.update_ms),
        }

    def _execution(self, t: Trade) -> dict[str, Any]:
        return {
            "category": "linear",
            "symbol": t.order.symbol,
            "isLeverage": "",
            "orderId": str(t.order.order_id),
            "orderLinkId": t.order.client_id,
            "side": "Buy" if t.order.side == "BUY" else "Sell",
            "orderPrice": num(t.order.price),
            "orderQty": num(t.order.quantity),
            "leavesQty": num(t.order.quantity - t.order.executed),
            "createType": "CreateByUser",
            "orderType": "Limit",
            "stopOrderType": "",
            "execFee": num(t.commission),
            "execId": str(t.trade_id),
            "execPrice": num(t.price),
            "execQty": num(t.qty),
            "execType": "Trade",
            "execValue": num(t.qty * t.price),
            "execTime": str(t.time_ms),
            "feeCurrency": "USDT",
            "isMaker": t.maker,
            "feeRate": "0.0002" if t.maker else "0.00055",
            "tradeIv": "",
            "markIv": "",
            "markPrice": num(self.ledger.marks.get(t.order.symbol, t.price)),
            "indexPrice": "",
            "underlyingPrice": "",
            "blockTradeId": "",
            "closedSize": "0",
            "seq": t.trade_id,
        }

    # -- websockets --------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        socket = _Socket(ws=ws, private=request.path == "/v5/private")
        self._sockets.append(socket)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_message(socket, message.data)
        finally:
            self._sockets.remove(socket)
        return ws

    async def _on_message(self, socket: _Socket, text: str) -> None:
        try:
            message = json.loads(text)
            op = message["op"]
        except (ValueError, KeyError, TypeError):
            await _send(socket, {"success": False, "ret_msg": "invalid request", "op": ""})
            return
        req_id = message.get("req_id", "")
        args = [str(a) for a in message.get("args", [])]
        if op == "ping":
            await _send(
                socket,
                {
                    "success": True,
                    "ret_msg": "pong",
                    "conn_id": "local",
                    "req_id": req_id,
                    "op": "ping",
                },
            )
            return
        if op == "auth":
            ok = self._ws_auth(socket, args)
            await _send(
                socket,
                {
                    "success": ok,
                    "ret_msg": "" if ok else "Params Error",
                    "op": "auth",
                    "conn_id": "local",
                    "req_id": req_id,
                },
            )
            return
        if op == "subscribe":
            if socket.private and socket.account is None:
                await _send(
                    socket,
                    {
                        "success": False,
                        "ret_msg": "Request not authorized",
                        "op": op,
                        "conn_id": "local",
                        "req_id": req_id,
                    },
                )
                return
            socket.topics.update(args)
            await _send(
                socket,
                {"success": True, "ret_msg": "", "conn_id": "local", "req_id": req_id, "op": op},
            )
            if socket.private:
                self.private_stream_opened.set()
            now = self._clock_ms()
            for topic in args:
                if topic.startswith("tickers."):
                    frame = self._ticker_frame(topic.removeprefix("tickers."), now)
                    if frame is not None:
                        await _send(socket, frame)
            return
        if op == "unsubscribe":
            socket.topics.difference_update(args)
            await _send(
                socket,
                {"success": True, "ret_msg": "", "conn_id": "local", "req_id": req_id, "op": op},
            )
            return
        await _send(
            socket, {"success": False, "ret_msg": f"unknown op {op}", "op": op, "req_id": req_id}
        )

    def _ws_auth(self, socket: _Socket, args: list[str]) -> bool:
        if len(args) != 3:
            return False
        key = self._keys.get(args[0])
        if key is None:
            return False
        expected = hmac.new(
            key.secret.encode(), f"GET/realtime{args[1]}".encode(), hashlib.sha256
        ).hexdigest()
        try:
            fresh = int(args[1]) > self._clock_ms()
        except ValueError:
            return False
        if not fresh or not hmac.compare_digest(args[2], expected):
            return False
        socket.account = key.account
        return True


def _instrument(c: Contract) -> dict[str, Any]:
    return {
        "symbol": c.symbol,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": c.base,
        "quoteCoin": "USDT",
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(c.price_precision),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": c.tick_size, "maxPrice": "1999999.80", "tickSize": c.tick_size},
        "lotSizeFilter": {
            "maxOrderQty": c.max_qty,
            "minOrderQty": c.min_qty,
            "qtyStep": c.step_size,
            "postOnlyMaxOrderQty": c.max_qty,
            "maxMktOrderQty": c.max_qty,
            "minNotionalValue": c.min_notional,
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": "USDT",
        "copyTrading": "both",
        "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375",
        "isPreListing": False,
        "preListingInfo": None,
    }


async def _send(socket: _Socket, frame: Mapping[str, Any]) -> None:
    if socket.ws.closed:
        return
    with contextlib.suppress(ConnectionError, RuntimeError):
        await socket.ws.send_str(json.dumps(frame))


def _drop(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError
