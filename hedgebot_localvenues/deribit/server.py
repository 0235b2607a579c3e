"""The aiohttp server of the local Deribit exchange: HTTP and websocket JSON-RPC, control routes.

Owns `DeribitSimServer`: binding (port 0 picks a free port), the routes
``GET|POST /api/v2/{scope}/{method}`` (ccxt's REST: query parameters, ``deri-hmac-sha256`` or
Bearer Authorization), ``POST /api/v2`` (a JSON-RPC envelope) and ``GET /ws/api/v2``
(websocket JSON-RPC with subscriptions), plus the ``/_sim/*`` routes of `control`. It runs the clock
driver (simulated time advances with real time times `speed`), one account stream per account,
and the periodic market and portfolio fan-out. Transports carry out each call's `Outcome`,
including the faults: too_many_requests closes the connection, a lost answer hangs or drops it.

It must not implement Deribit methods (see the *_methods modules and `trading`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Coroutine, Sequence
from typing import Any, NoReturn

import structlog
from aiohttp import WSMsgType, web

from hedgebot.clock import SimulatedClock, WallClock
from hedgebot.model.account import AccountSnapshot
from hedgebot.model.instruments import Instrument
from hedgebot.model.orders import Fill, OrderUpdate
from hedgebot_localvenues.deribit.auth import ApiCredentials, Authenticator
from hedgebot_localvenues.deribit.backend import SimExchange
from hedgebot_localvenues.deribit.channels import Channel, parse_channel
from hedgebot_localvenues.deribit.control import add_control_routes
from hedgebot_localvenues.deribit.dispatch import Dispatcher, Outcome, Request
from hedgebot_localvenues.deribit.faults import FaultController
from hedgebot_localvenues.deribit.ratelimit import CreditPools
from hedgebot_localvenues.deribit.requestlog import RequestLog
from hedgebot_localvenues.deribit.rpc import PARSE_ERROR, TOO_MANY_REQUESTS, RpcError, error_frame
from hedgebot_localvenues.deribit.session import WsSession
from hedgebot_localvenues.deribit.state import VenueState
from hedgebot_localvenues.deribit.subscriptions import SubscriptionHub

_log = structlog.get_logger(__name__)
WS_PATH = "/ws/api/v2"


class _AccountStreamSink:
    """Feeds one account's broker stream into the venue state."""

    def __init__(self, state: VenueState) -> None:
        self._state = state

    def on_account(self, snapshot: AccountSnapshot) -> None:
        self._state.on_account(snapshot)

    def on_order(self, update: OrderUpdate) -> None:
        self._state.on_update(update)

    def on_fill(self, fill: Fill) -> None:
        self._state.on_fill(fill)


class DeribitSimServer:
    """A Deribit API v2 endpoint on 127.0.0.1 in front of a simulated exchange."""

    def __init__(
        self,
        *,
        exchange: SimExchange,
        clock: SimulatedClock,
        instruments: Sequence[Instrument],
        credentials: Sequence[ApiCredentials],
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        tick_s: float = 0.05,
        activation_ms: int = 0,
        faults_http: bool = False,
        heartbeat_min_s: float = 10.0,
        hang_s: float = 30.0,
        listed_ms: int | None = None,
        credits: CreditPools | None = None,
    ) -> None:
        if speed <= 0 or tick_s <= 0:
            raise ValueError("speed and tick_s must be positive")
        self.clock = clock
        self.state = VenueState(
            exchange=exchange,
            clock=clock,
            instruments=instruments,
            authenticator=Authenticator(credentials),
            listed_ms=clock.now_ms() if listed_ms is None else listed_ms,
            activation_ms=activation_ms,
        )
        self.hub = SubscriptionHub(self.state)
        self.faults = FaultController(self.hub)
        self.hub.faults = self.faults
        self.requests = RequestLog()
        self.dispatcher = Dispatcher(self.state, self.faults, self.requests, credits)
        self.speed = speed
        self.paused = False
        """While paused the clock stands still (tests step it with `advance`)."""
        self._host, self._port = host, port
        self._tick_s = tick_s
        self._faults_http = faults_http
        self._heartbeat_min_s = heartbeat_min_s
        self._hang_s = hang_s
        self.instrument_names = frozenset(i.symbol for i in instruments)
        """Symbols of every listed instrument."""
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = asyncio.Event()

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind and start serving, the clock driver and the account streams."""
        app = web.Application()
        app.router.add_route("GET", "/api/v2/{scope}/{name}", self._http_call)
        app.router.add_route("POST", "/api/v2/{scope}/{name}", self._http_call)
        app.router.add_route("POST", "/api/v2", self._http_envelope)
        app.router.add_route("POST", "/api/v2/", self._http_envelope)
        app.router.add_route("GET", WS_PATH, self._websocket)
        add_control_routes(app, self, faults=self._faults_http)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = int(self._runner.addresses[0][1])
        for account in self.state.auth.accounts():
            broker = self.state.broker(account)
            self._spawn(broker.stream(_AccountStreamSink(self.state)), f"stream:{account}")
        self._spawn(self._drive(), "clock-driver")
        _log.info("deribit_sim.started", url=self.url, speed=self.speed)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=f"deribit_sim:{name}")
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    async def stop(self) -> None:
        """Close every connection and stop."""
        self._closing.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.hub.drop_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> DeribitSimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL for ccxt's ``urls['api']['rest']``."""
        return f"http://{self._host}:{self._port}"

    @property
    def ws_url(self) -> str:
        """URL for ccxt's ``urls['api']['ws']``."""
        return f"ws://{self._host}:{self._port}{WS_PATH}"

    # ---- simulated time ---------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move simulated time forward now (and publish), whatever the driver does."""
        self.clock.advance(seconds)
        self._after_tick()

    def _after_tick(self) -> None:
        self.state.ticked()
        self.hub.publish_market()

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        wall = WallClock()
        last = loop.time()
        last_portfolio = last
        while True:
            await wall.sleep(self._tick_s)
            now = loop.time()
            try:
                if not self.paused:
                    step_ms = round((now - last) * self.speed * 1000)
                    if step_ms > 0:
                        self.clock.advance(step_ms / 1000)
                        last += step_ms / 1000 / self.speed
                else:
                    last = now
                self._after_tick()
                if now - last_portfolio >= 1.0:
                    last_portfolio = now
                    await self.hub.push_portfolios()
            except Exception:  # one bad tick must not stop simulated time for good
                _log.exception("deribit_sim.tick.failed")

    # ---- HTTP -------------------------------------------------------------------------------
    async def _http_call(self, request: web.Request) -> web.StreamResponse:
        method = f"{request.match_info['scope']}/{request.match_info['name']}"
        body = await request.text() if request.method == "POST" else ""
        request_id: Any = None
        if request.method == "POST" and body:
            try:
                payload = json.loads(body)
            except json.JSONDecodeError:
                return self._parse_error()
            if not isinstance(payload, dict):
                return self._parse_error()
            request_id = payload.get("id")
            params = payload.get("params", payload if "jsonrpc" not in payload else {})
        else:
            params = dict(request.query)
        return await self._http_dispatch(request, method, params, request_id, body)

    async def _http_envelope(self, request: web.Request) -> web.StreamResponse:
        body = await request.text()
        try:
            payload = json.loads(body)
        except json.JSONDecodeError:
            return self._parse_error()
        if not isinstance(payload, dict) or not isinstance(payload.get("method"), str):
            return self._parse_error()
        params = payload.get("params") or {}
        return await self._http_dispatch(
            request, payload["method"], params, payload.get("id"), body
        )

    async def _http_dispatch(
        self, request: web.Request, method: str, params: Any, request_id: Any, body: str
    ) -> web.StreamResponse:
        if not isinstance(params, dict):
            return self._parse_error()

        def authorize() -> str | None:
            header = request.headers.get("Authorization")
            if header is None:
                return None
            return self.state.auth.authorization(
                header, method=request.method, uri=request.raw_path, body=body
            )

        outcome = await self.dispatcher.dispatch(
            Request(
                method=method,
                params=params,
                request_id=request_id,
                transport="http",
                authorize=authorize,
                client=request.remote or "",
            )
        )
        if outcome.loss is not None:
            if outcome.loss == "hang":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), timeout=self._hang_s)
            return _drop_connection(request)
        status = 200
        if outcome.is_error:
            status = 429 if outcome.frame["error"]["code"] == TOO_MANY_REQUESTS else 400
        response = web.json_response(outcome.frame, status=status)
        if outcome.close:
            response.force_close()
        return response

    @staticmethod
    def _parse_error() -> web.Response:
        frame = error_frame(None, RpcError(PARSE_ERROR), received_us=0, sent_us=0)
        return web.json_response(frame, status=400)

    # ---- websocket --------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
        await ws.prepare(request)
        session = WsSession(
            ws,
            parse=self._parse_channel,
            heartbeat_min_s=self._heartbeat_min_s,
            remote=request.remote or "",
        )
        self.hub.attach(session)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._ws_message(session, message.data)
                    if session.closed:
                        break
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self.hub.detach(session)
            await session.close()
        return ws

    async def _ws_message(self, session: WsSession, text: str) -> None:
        try:
            payload = json.loads(text)
        except json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("method"), str):
            session.enqueue(error_frame(None, RpcError(PARSE_ERROR), received_us=0, sent_us=0))
            return
        method: str = payload["method"]
        params = payload.get("params") or {}
        if not isinstance(params, dict):
            params = {}
        if method == "public/test":
            session.saw_test()
        token = params.get("access_token")

        def authorize() -> str | None:
            if isinstance(token, str):
                return self.state.auth.bearer(token)
            return session.account

        outcome = await self.dispatcher.dispatch(
            Request(
                method=method,
                params={k: v for k, v in params.items() if k != "access_token"},
                request_id=payload.get("id"),
                transport="ws",
                authorize=authorize,
                session=session,
                access_token=token if isinstance(token, str) else None,
                client=session.remote,
            )
        )
        await self._ws_answer(session, outcome)

    async def _ws_answer(self, session: WsSession, outcome: Outcome) -> None:
        if outcome.loss == "close":
            await session.close()
            return
        if outcome.loss is None:
            session.enqueue(outcome.frame)
        if outcome.close or session.close_after_reply:
            await session.flush_and_close()

    def _parse_channel(self, name: str) -> Channel | None:
        return parse_channel(
            name, instruments=self.instrument_names, index_names=self.state.index_names()
        )


def _log_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.error("deribit_sim.task.crashed", task=task.get_name(), error=repr(task.exception()))


def _drop_connection(request: web.Request) -> NoReturn:
    """Close the client's connection without answering (the answer is lost)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
    raise asyncio.CancelledError
