"""The aiohttp server of the local OKX v5 exchange: REST, public and private websockets.

Owns `OkxServer`: OKX v5 authentication (headers ``OK-ACCESS-KEY``, ``OK-ACCESS-PASSPHRASE``,
``OK-ACCESS-TIMESTAMP`` (ISO 8601), ``OK-ACCESS-SIGN`` = base64 HMAC-SHA256 of timestamp +
method + request path with its query + JSON body; websocket ``login`` signing timestamp (seconds)
+ ``GET/users/self/verify``), the REST routes ccxt's ``okx`` calls for USDT swaps, the public
stream ``/ws/v5/public`` (``tickers``) and the private stream ``/ws/v5/private`` (``orders``,
``positions``, ``account``). Answers use OKX's envelope ``{"code", "msg", "data"}``; order
operations carry ``sCode``/``sMsg`` per order (``code`` 1 when all failed), as OKX does.

Amounts on the wire are OKX contracts (``sz``, ``pos``, ``accFillSz``); the shared `Ledger` of
the local Binance exchange keeps coin, converted by `markets.Swap`. Each account has OKX's
account configuration (`AccountConfig`: ``acctLv``, ``posMode``); each position keeps the margin
mode (``mgnMode``) of the order that opened it. Faults armed in ``faults`` apply to REST
requests; ``faults.drop_websockets`` closes every socket. It must not import ccxt.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import structlog
from aiohttp import WSMsgType, web

from hedgebot_localvenues.binance_usdm.ledger import Ledger, Order, Rejection, Trade
from hedgebot_localvenues.binance_usdm.wire import num
from hedgebot_localvenues.common.faults import FaultPlan
from hedgebot_localvenues.common.prices import PricePath
from hedgebot_localvenues.common.requestlog import RequestLog
from hedgebot_localvenues.okx.markets import SWAPS, Swap, instrument_row
from hedgebot_localvenues.okx.wire import STATES, AccountConfig, OrderMeta, Wire, currencies

__all__ = ["AccountConfig", "ApiKey", "OkxError", "OkxServer"]

_log = structlog.get_logger(__name__)
TIMESTAMP_WINDOW_MS = 30_000
"""OKX refuses a request whose timestamp is more than 30 s from its clock (50102)."""
_CLORDID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_CODES = {
    -4014: ("51000", "Parameter px error"),
    -1013: ("51121", "Order quantity must be a multiple of the lot size."),
    -4003: ("51020", "Your order should meet or exceed the minimum order amount."),
    -2022: (
        "51169",
        "Order failed because you don't have any positions in this direction for this contract "
        "to reduce or close.",
    ),
    -4116: ("51016", "Duplicated clOrdId"),
    -2019: ("51008", "Order failed. Insufficient USDT margin in account"),
    -1121: ("51001", "Instrument ID does not exist"),
    -1116: ("51000", "Parameter ordType error"),
    -1117: ("51000", "Parameter side error"),
}
"""The shared ledger's refusals (Binance codes) as OKX answers them (sCode, sMsg)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One API key of an account: key, secret and passphrase (local test values)."""

    account: str
    key: str
    secret: str
    passphrase: str


class OkxError(Exception):
    """An OKX refusal: code, message and HTTP status."""

    def __init__(self, code: str, msg: str, status: int = 200) -> None:
        super().__init__(f"{code} {msg}")
        self.code = code
        self.msg = msg
        self.status = status


@dataclass(slots=True)
class _Socket:
    ws: web.WebSocketResponse
    private: bool
    subscriptions: list[dict[str, str]] = field(default_factory=list)
    account: str | None = None


class OkxServer:
    """An OKX v5 endpoint on 127.0.0.1 in front of the shared `Ledger`."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        prices: PricePath,
        keys: list[ApiKey],
        configs: dict[str, AccountConfig],
        swaps: Mapping[str, Swap] = SWAPS,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_s: float = 0.2,
        clock_ms: Callable[[], int] | None = None,
    ) -> None:
        self.ledger = ledger
        self.prices = prices
        self.swaps = dict(swaps)
        self.configs = configs
        self._keys = {k.key: k for k in keys}
        self._host = host
        self._port = port
        self._tick_s = tick_s
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.faults = FaultPlan()
        self.requests = RequestLog()
        self.margin_modes: dict[tuple[str, str], str] = {}
        """(account, instId) -> mgnMode of the open position."""
        self._meta: dict[int, OrderMeta] = {}
        self.wire = Wire(
            ledger=ledger,
            swaps=self.swaps,
            configs=configs,
            margin_modes=self.margin_modes,
            meta=self._meta,
        )
        self._sockets: list[_Socket] = []
        self.private_stream_opened = asyncio.Event()
        """Set when a private websocket has logged in and subscribed."""
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

    def contracts(self, account: str, inst_id: str) -> float:
        """The signed position of `account` in `inst_id`, in OKX contracts (net mode)."""
        leg = self.ledger.accounts[account].position(inst_id, "BOTH")
        return float(self.swaps[inst_id].to_contracts(leg.amount))

    async def start(self) -> None:
        """Bind and start ticking."""
        self._tick()
        app = web.Application()
        app.router.add_route("*", "/api/v5/{rest:.*}", self._rest)
        for path in ("/ws/v5/public", "/ws/v5/private", "/ws/v5/business"):
            app.router.add_get(path, self._websocket)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.bound_port = int(self._runner.addresses[0][1])
        self._ticker = asyncio.create_task(self._tick_forever())
        _log.info("okx.listening", url=self.url)

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

    async def __aenter__(self) -> OkxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- ticking -----------------------------------------------------------------------------

    def _tick(self) -> None:
        now = self._clock_ms()
        self.prices.advance(now)
        for inst_id, contract in self.ledger.contracts.items():
            index = self.prices.index(contract.base)
            if index is not None:
                self.ledger.set_index(inst_id, index, now)

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
                for arg in list(socket.subscriptions):
                    if arg["channel"] == "tickers":
                        row = self.wire.ticker_row(arg.get("instId", ""), now)
                        if row is not None:
                            await _send(socket, {"arg": arg, "data": [row]})
            events, self.ledger.events = self.ledger.events, []
            for account, order, trade in events:
                self._track_margin_mode(account, order)
                await self._push_private(account, order, trade)

    def _track_margin_mode(self, account: str, order: Order) -> None:
        leg = self.ledger.accounts[account].position(order.symbol, "BOTH")
        meta = self._meta.get(order.order_id)
        if leg.amount == 0:
            self.margin_modes.pop((account, order.symbol), None)
        elif meta is not None:
            self.margin_modes.setdefault((account, order.symbol), meta.td_mode)

    async def _push_private(self, account: str, order: Order, trade: Trade | None) -> None:
        for socket in list(self._sockets):
            if socket.account != account:
                continue
            for arg in list(socket.subscriptions):
                channel = arg["channel"]
                if channel == "orders" and _matches(arg, order.symbol):
                    row = self.wire.order_row(order, trade=trade, push=True)
                    await _send(socket, {"arg": arg, "data": [row]})
                elif channel == "positions" and trade is not None and _matches(arg, order.symbol):
                    rows = self.wire.position_rows(
                        account, {"instId": order.symbol}, keep_flat=True
                    )
                    await _send(socket, {"arg": arg, "data": rows})
                elif channel == "account":
                    await _send(
                        socket,
                        {"arg": arg, "data": [self.wire.balance_row(account, self._clock_ms())]},
                    )

    # -- REST --------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        body = await request.text() if request.can_read_body else ""
        query = dict(parse_qsl(request.query_string, keep_blank_values=True))
        try:
            decoded: Any = json.loads(body) if body else {}
        except ValueError:
            decoded = {}
        batch = isinstance(decoded, list)
        params: dict[str, Any] = dict(query) if batch else {**query, **decoded}
        entries: list[Mapping[str, Any]] = (
            [e for e in decoded if isinstance(e, dict)] if batch else [params]
        )
        private = path.startswith(("/api/v5/account/", "/api/v5/trade/", "/api/v5/asset/"))
        handler = self._routes().get((method, path))
        fault = self.faults.take(method, path)

        def record(outcome: str = "answered") -> None:
            for entry in entries:
                self.requests.record(method, path, private=private, params=entry, outcome=outcome)

        if fault is not None and fault.kind == "reject_before":
            record("dropped")
            _drop(request)
        if fault is not None and fault.kind == "rate_limit":
            record("429")
            return web.json_response(
                {"code": "50011", "msg": "Too Many Requests", "data": []}, status=429
            )
        if fault is not None and fault.kind == "error":
            record("error")
            return web.json_response({"code": str(fault.code), "msg": fault.message, "data": []})
        if handler is None:
            record("404")
            return web.json_response({"code": "404", "msg": "Not Found", "data": []}, status=404)
        try:
            account = self._authenticate(request, body) if private else None
            answer = handler(account, decoded if batch else params)
        except OkxError as error:
            record(error.code)
            return web.json_response(
                {"code": error.code, "msg": error.msg, "data": []}, status=error.status
            )
        if fault is not None and fault.kind == "lose_answer":
            record("lost")
            _drop(request)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
        record(_outcome(answer))
        return web.json_response(answer)

    def _authenticate(self, request: web.Request, body: str) -> str:
        headers = request.headers
        for name, code in (
            ("OK-ACCESS-KEY", "50103"),
            ("OK-ACCESS-PASSPHRASE", "50104"),
            ("OK-ACCESS-SIGN", "50106"),
            ("OK-ACCESS-TIMESTAMP", "50107"),
        ):
            if not headers.get(name):
                raise OkxError(code, f'Request header "{name}" cannot be empty.', 401)
        key = self._keys.get(headers["OK-ACCESS-KEY"])
        if key is None:
            raise OkxError("50111", "Invalid OK-ACCESS-KEY.", 401)
        if not hmac.compare_digest(headers["OK-ACCESS-PASSPHRASE"], key.passphrase):
            raise OkxError("50105", 'Request header "OK-ACCESS-PASSPHRASE" incorrect.', 401)
        stamp = headers["OK-ACCESS-TIMESTAMP"]
        try:
            sent = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise OkxError("50112", 'Invalid "OK-ACCESS-TIMESTAMP".', 401) from None
        if abs(self._clock_ms() - sent.timestamp() * 1000) > TIMESTAMP_WINDOW_MS:
            raise OkxError("50102", "Timestamp request expired.", 401)
        signed = stamp + request.method + request.raw_path + body
        expected = base64.b64encode(
            hmac.new(key.secret.encode(), signed.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(headers["OK-ACCESS-SIGN"], expected):
            raise OkxError("50113", "Invalid Sign", 401)
        return key.account

    def _routes(self) -> dict[tuple[str, str], Callable[[str | None, Any], dict[str, Any]]]:
        return {
            ("GET", "/api/v5/public/time"): lambda a, p: _ok([{"ts": str(self._clock_ms())}]),
            ("GET", "/api/v5/public/instruments"): self._instruments,
            ("GET", "/api/v5/public/mark-price"): self._mark_prices,
            ("GET", "/api/v5/market/ticker"): self._market_ticker,
            ("GET", "/api/v5/market/tickers"): self._tickers,
            ("GET", "/api/v5/market/index-tickers"): self._index_tickers,
            ("GET", "/api/v5/asset/currencies"): lambda a, p: _ok(currencies()),
            ("GET", "/api/v5/account/config"): self._config,
            ("GET", "/api/v5/account/balance"): lambda a, p: _ok(
                [self.wire.balance_row(a or "", self._clock_ms())]
            ),
            ("GET", "/api/v5/account/positions"): lambda a, p: _ok(
                self.wire.position_rows(a or "", p, keep_flat=False)
            ),
            ("POST", "/api/v5/trade/order"): self._place_one,
            ("POST", "/api/v5/trade/batch-orders"): self._place_batch,
            ("POST", "/api/v5/trade/cancel-order"): self._cancel,
            ("GET", "/api/v5/trade/order"): self._get_order,
            ("GET", "/api/v5/trade/orders-pending"): self._pending,
            ("GET", "/api/v5/trade/orders-history"): self._history,
            ("GET", "/api/v5/trade/fills"): self._fills,
            ("GET", "/api/v5/trade/fills-history"): self._fills,
        }

    # -- public ------------------------------------------------------------------------------

    def _instruments(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        inst_type = p.get("instType")
        if not inst_type:
            raise OkxError("50014", "Parameter instType can not be empty.")
        if inst_type not in ("SPOT", "MARGIN", "SWAP", "FUTURES", "OPTION"):
            raise OkxError("51000", "Parameter instType error")
        if inst_type == "OPTION" and not (p.get("uly") or p.get("instFamily")):
            raise OkxError("50014", "Parameter uly can not be empty.")
        if inst_type != "SWAP":
            return _ok([])
        rows = [instrument_row(s) for s in self.swaps.values()]
        if "instId" in p:
            rows = [r for r in rows if r["instId"] == p["instId"]]
        return _ok(rows)

    def _market_ticker(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        row = self.wire.ticker_row(str(p.get("instId", "")), self._clock_ms())
        if row is None:
            raise OkxError("51001", "Instrument ID does not exist")
        return _ok([row])

    def _tickers(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        if p.get("instType") != "SWAP":
            return _ok([])
        now = self._clock_ms()
        rows = [self.wire.ticker_row(i, now) for i in self.swaps]
        return _ok([r for r in rows if r is not None])

    def _mark_prices(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        now = str(self._clock_ms())
        rows = [
            {"instType": "SWAP", "instId": i, "markPx": num(self.ledger.marks[i]), "ts": now}
            for i in self.swaps
            if i in self.ledger.marks and p.get("instId", i) == i
        ]
        return _ok(rows)

    def _index_tickers(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        now = str(self._clock_ms())
        rows = []
        for swap in self.swaps.values():
            index = self.prices.index(swap.base)
            inst = f"{swap.base}-USDT"
            if index is None or p.get("instId", inst) != inst:
                continue
            value = num(index)
            rows.append(
                {
                    "instId": inst,
                    "idxPx": value,
                    "high24h": value,
                    "low24h": value,
                    "open24h": value,
                    "sodUtc0": value,
                    "sodUtc8": value,
                    "ts": now,
                }
            )
        return _ok(rows)

    # -- account -----------------------------------------------------------------------------

    def _config(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        return _ok([self.wire.config_row(self.configs[account or ""])])

    # -- trading -----------------------------------------------------------------------------

    def _place_one(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        result = self._place(account or "", p)
        failed = result["sCode"] != "0"
        return {"code": "1" if failed else "0", "msg": _FAILED if failed else "", "data": [result]}

    def _place_batch(self, account: str | None, orders: Any) -> dict[str, Any]:
        if not isinstance(orders, list) or not orders or len(orders) > 20:
            raise OkxError("51000", "Parameter batch-orders error")
        results = [self._place(account or "", o) for o in orders]
        failures = sum(r["sCode"] != "0" for r in results)
        if failures == 0:
            return {"code": "0", "msg": "", "data": results}
        if failures == len(results):
            return {"code": "1", "msg": "All operations failed", "data": results}
        return {"code": "2", "msg": "Batch operation partially succeeded", "data": results}

    def _place(self, account: str, p: Mapping[str, Any]) -> dict[str, Any]:
        cl_ord_id = str(p.get("clOrdId") or "")
        tag = str(p.get("tag") or "")
        now = self._clock_ms()
        try:
            order = self._checked_place(account, p, cl_ord_id, tag, now)
        except OkxError as error:
            return _op(cl_ord_id, "", code=error.code, msg=error.msg, tag=tag, now=now)
        return _op(
            order.client_id, str(order.order_id), code="0", msg="Order placed", tag=tag, now=now
        )

    def _checked_place(
        self, account: str, p: Mapping[str, Any], cl_ord_id: str, tag: str, now: int
    ) -> Order:
        config = self.configs[account]
        inst_id = str(p.get("instId") or "")
        swap = self.swaps.get(inst_id)
        if swap is None:
            raise OkxError("51001", "Instrument ID does not exist")
        if config.acct_lv == "1":
            raise OkxError(
                "51010", "The current account mode does not support this API interface. "
            )
        td_mode = str(p.get("tdMode") or "")
        if not td_mode:
            raise OkxError("50014", "Parameter tdMode can not be empty.")
        if td_mode not in ("cross", "isolated"):
            raise OkxError("51000", "Parameter tdMode error")
        pos_side = str(p.get("posSide") or "")
        if config.pos_mode == "net_mode" and pos_side not in ("", "net"):
            raise OkxError("51000", "Parameter posSide error")
        if config.pos_mode == "long_short_mode":
            # OKX requires posSide long/short here; this local exchange trades net mode only
            raise OkxError("51000", "Parameter posSide error")
        opened = self.margin_modes.get((account, inst_id))
        if opened is not None and opened != td_mode:
            raise OkxError("51000", "Parameter tdMode error")
        if cl_ord_id and not _CLORDID.match(cl_ord_id):
            raise OkxError("51000", "Parameter clOrdId error")
        ord_type = str(p.get("ordType") or "")
        if ord_type not in ("limit", "ioc", "fok"):
            raise OkxError("51000", "Parameter ordType error")
        side = str(p.get("side") or "")
        if side not in ("buy", "sell"):
            raise OkxError("51000", "Parameter side error")
        try:
            sz = str(p["sz"])
            quantity = swap.to_coin(sz)
            price = float(p["px"])
        except (KeyError, ValueError, ArithmeticError):
            raise OkxError("51000", "Parameter sz error") from None
        reduce_only = str(p.get("reduceOnly", "false")).lower() == "true"
        try:
            order = self.ledger.place(
                account,
                symbol=inst_id,
                side=side.upper(),
                order_type="LIMIT",
                quantity=quantity,
                price=price,
                position_side=None,
                reduce_only=reduce_only,
                client_id=cl_ord_id or secrets.token_hex(12),
                time_in_force="GTC" if ord_type == "limit" else "IOC",
                now_ms=now,
            )
        except Rejection as rejection:
            code, msg = _CODES.get(rejection.code, ("51000", rejection.msg))
            raise OkxError(code, msg) from None
        self._meta[order.order_id] = OrderMeta(td_mode=td_mode, ord_type=ord_type, tag=tag)
        self._track_margin_mode(account, order)
        return order

    def _find(self, account: str, p: Mapping[str, Any]) -> Order:
        order_id = p.get("ordId")
        try:
            return self.ledger.find(
                account,
                str(p.get("instId", "")),
                int(order_id) if order_id else None,
                str(p["clOrdId"]) if p.get("clOrdId") else None,
            )
        except (Rejection, ValueError):
            raise OkxError("51603", "Order does not exist") from None

    def _cancel(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        now = self._clock_ms()
        cl_ord_id = str(p.get("clOrdId") or "")
        try:
            order = self._find(account or "", p)
        except OkxError:
            result = _op(
                cl_ord_id, str(p.get("ordId") or ""), code="51400", msg=_CANCEL_GONE, now=now
            )
            return {"code": "1", "msg": "", "data": [result]}
        if not order.open:
            code = "51402" if order.status == "FILLED" else "51401"
            result = _op(order.client_id, str(order.order_id), code=code, msg=_CANCEL_GONE, now=now)
            return {"code": "1", "msg": "", "data": [result]}
        self.ledger.cancel(account or "", order, now)
        return _ok([_op(order.client_id, str(order.order_id), code="0", msg="", now=now)])

    def _get_order(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        if not p.get("instId"):
            raise OkxError("50014", "Parameter instId can not be empty.")
        if not p.get("ordId") and not p.get("clOrdId"):
            raise OkxError("51000", "Parameter ordId or clOrdId error")
        return _ok([self.wire.order_row(self._find(account or "", p))])

    def _orders(self, account: str, p: Mapping[str, Any], *, open_only: bool) -> list[Order]:
        acct = self.ledger.accounts[account]
        if p.get("instType") not in (None, "", "SWAP"):
            return []
        state = p.get("state")
        limit = min(int(p.get("limit", 100)), 100)
        rows = [
            o
            for o in sorted(acct.orders.values(), key=lambda o: -o.time_ms)
            if o.open == open_only
            and ("instId" not in p or o.symbol == p["instId"])
            and (state is None or STATES[o.status] == state)
            and o.time_ms >= int(p.get("begin", 0))
        ]
        return rows[:limit]

    def _pending(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        return _ok([self.wire.order_row(o) for o in self._orders(account or "", p, open_only=True)])

    def _history(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        if not p.get("instType"):
            raise OkxError("50014", "Parameter instType can not be empty.")
        return _ok(
            [self.wire.order_row(o) for o in self._orders(account or "", p, open_only=False)]
        )

    def _fills(self, account: str | None, p: Mapping[str, Any]) -> dict[str, Any]:
        acct = self.ledger.accounts[account or ""]
        begin = int(p.get("begin", 0))
        end = int(p.get("end", 2**62))
        rows = [
            self.wire.fill_row(t)
            for t in reversed(acct.trades)
            if begin <= t.time_ms <= end
            and ("instId" not in p or t.order.symbol == p["instId"])
            and ("ordId" not in p or str(t.order.order_id) == str(p["ordId"]))
        ]
        return _ok(rows[: min(int(p.get("limit", 100)), 100)])

    # -- websockets --------------------------------------------------------------------------

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        socket = _Socket(ws=ws, private=request.path != "/ws/v5/public")
        self._sockets.append(socket)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_message(socket, message.data)
        finally:
            self._sockets.remove(socket)
        return ws

    async def _on_message(self, socket: _Socket, text: str) -> None:
        if text == "ping":
            if not socket.ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await socket.ws.send_str("pong")
            return
        try:
            message = json.loads(text)
            op = str(message["op"])
            args = [a for a in message.get("args", []) if isinstance(a, dict)]
        except (ValueError, KeyError, TypeError, AttributeError):
            await _send(socket, _ws_error("60012", f"Illegal request: {text}"))
            return
        if op == "login":
            error = self._ws_login(socket, args)
            if error is not None:
                await _send(socket, _ws_error(*error))
                return
            await _send(socket, {"event": "login", "code": "0", "msg": "", "connId": "local"})
            return
        if op not in ("subscribe", "unsubscribe"):
            await _send(socket, _ws_error("60012", f"Illegal request: {text}"))
            return
        for arg in args:
            clean = {k: str(v) for k, v in arg.items()}
            if op == "unsubscribe":
                if clean in socket.subscriptions:
                    socket.subscriptions.remove(clean)
                await _send(socket, {"event": "unsubscribe", "arg": clean, "connId": "local"})
                continue
            refusal = self._subscription_refusal(socket, clean)
            if refusal is not None:
                await _send(socket, refusal)
                continue
            socket.subscriptions.append(clean)
            await _send(socket, {"event": "subscribe", "arg": clean, "connId": "local"})
            await self._initial_push(socket, clean)

    def _subscription_refusal(
        self, socket: _Socket, arg: Mapping[str, str]
    ) -> dict[str, Any] | None:
        """OKX's error frame for a subscription it refuses (None when accepted)."""
        channel = arg.get("channel", "")
        if channel in ("orders", "positions", "account"):
            if not socket.private:
                return _ws_error("60018", f"channel:{channel} doesn't exist")
            if socket.account is None:
                return _ws_error("60011", "Please log in")
            return None
        if channel == "tickers" and arg.get("instId") in self.swaps:
            return None
        return _ws_error("60018", f"channel:{channel},instId:{arg.get('instId')} doesn't exist")

    async def _initial_push(self, socket: _Socket, arg: dict[str, str]) -> None:
        channel = arg["channel"]
        if channel == "tickers":
            row = self.wire.ticker_row(arg["instId"], self._clock_ms())
            if row is not None:
                await _send(socket, {"arg": arg, "data": [row]})
            return
        if socket.account is None:
            return
        self.private_stream_opened.set()
        if channel == "positions":
            rows = self.wire.position_rows(socket.account, arg, keep_flat=False)
            await _send(socket, {"arg": arg, "data": rows})
        elif channel == "account":
            await _send(
                socket,
                {"arg": arg, "data": [self.wire.balance_row(socket.account, self._clock_ms())]},
            )

    def _ws_login(self, socket: _Socket, args: list[dict[str, Any]]) -> tuple[str, str] | None:
        if len(args) != 1:
            return ("60012", "Illegal request")
        arg = args[0]
        key = self._keys.get(str(arg.get("apiKey", "")))
        if key is None:
            return ("60005", "Invalid apiKey")
        if not hmac.compare_digest(str(arg.get("passphrase", "")), key.passphrase):
            return ("60024", "Wrong passphrase")
        stamp = str(arg.get("timestamp", ""))
        try:
            fresh = abs(float(stamp) * 1000 - self._clock_ms()) <= TIMESTAMP_WINDOW_MS
        except ValueError:
            fresh = False
        if not fresh:
            return ("60004", "Invalid timestamp")
        expected = base64.b64encode(
            hmac.new(
                key.secret.encode(), f"{stamp}GET/users/self/verify".encode(), hashlib.sha256
            ).digest()
        ).decode()
        if not hmac.compare_digest(str(arg.get("sign", "")), expected):
            return ("60007", "Invalid sign")
        socket.account = key.account
        return None


_FAILED = "Operation failed."
_CANCEL_GONE = "Order cancellation failed as the order has been filled, canceled or does not exist"


def _outcome(answer: Mapping[str, Any]) -> str:
    """'answered', or the refusal's code (an order operation's first ``sCode``)."""
    code = str(answer.get("code", "0"))
    if code == "0":
        return "answered"
    data = answer.get("data") or [{}]
    return str(data[0].get("sCode") or code) if isinstance(data[0], dict) else code


def _ok(data: list[Any]) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": data}


def _op(
    cl_ord_id: str, ord_id: str, *, code: str, msg: str, now: int, tag: str = ""
) -> dict[str, Any]:
    return {
        "clOrdId": cl_ord_id,
        "ordId": ord_id,
        "sCode": code,
        "sMsg": msg,
        "tag": tag,
        "ts": str(now),
    }


def _ws_error(code: str, msg: str) -> dict[str, Any]:
    return {"event": "error", "code": code, "msg": msg, "connId": "local"}


def _matches(arg: Mapping[str, str], inst_id: str) -> bool:
    if arg.get("instType") not in (None, "ANY", "SWAP"):
        return False
    return arg.get("instId", inst_id) == inst_id


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
