"""One websocket connection of the local Deribit exchange, and its session-level methods.

Owns `WsSession`: the aiohttp websocket, the account it authenticated as, its subscribed
`Channel`s and per-channel publishing state, an outbound queue drained by one writer task (so
synchronous event callbacks can enqueue frames in order), and Deribit's heartbeat: after
``public/set_heartbeat`` the exchange sends ``test_request`` heartbeats and closes the
connection when one is not answered by ``public/test`` within the interval.

Also owns the handlers that only make sense on a websocket: ``public/subscribe``,
``private/subscribe``, their ``unsubscribe`` / ``unsubscribe_all`` and ``set_heartbeat`` /
``disable_heartbeat``. It must not compute market or account data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import WSCloseCode, web

from hedgebot_localvenues.deribit.calls import Call, Handler
from hedgebot_localvenues.deribit.channels import Channel
from hedgebot_localvenues.deribit.rpc import UNAUTHORIZED, RpcError, invalid_param
from hedgebot_localvenues.deribit.state import VenueState

_log = structlog.get_logger(__name__)
ChannelParser = Callable[[str], Channel | None]
HEARTBEAT_TEST = {"jsonrpc": "2.0", "method": "heartbeat", "params": {"type": "test_request"}}


class WsSession:
    """One websocket client."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        parse: ChannelParser,
        heartbeat_min_s: float = 10.0,
        remote: str = "",
    ) -> None:
        self.ws = ws
        self.remote = remote
        """The client's address."""
        self.account: str | None = None
        self.channels: dict[str, Channel] = {}
        self.published: dict[str, Any] = {}
        """Last data sent per channel (tickers are sent when they change, books as diffs)."""
        self.on_subscribe: Callable[[WsSession, list[Channel]], None] | None = None
        self._parse = parse
        self._heartbeat_min_s = heartbeat_min_s
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop())
        self._heartbeat: asyncio.Task[None] | None = None
        self._answered_test = asyncio.Event()
        self.close_after_reply = False
        """Set by a handler (logout) to close the connection once its answer is sent."""

    @property
    def closed(self) -> bool:
        """True once the socket is closed or closing."""
        return self.ws.closed

    def enqueue(self, frame: dict[str, Any]) -> None:
        """Send a frame after those already queued (safe from synchronous callbacks)."""
        if not self.ws.closed:
            self._queue.put_nowait(frame)

    async def flush_and_close(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        """Send what is queued, then close."""
        self._queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._writer), timeout=2.0)
        await self.close(code)

    async def close(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        """Close the socket now, dropping anything queued."""
        for task in (self._writer, self._heartbeat):
            if task is not None and not task.done():
                task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close(code=code)

    def saw_test(self) -> None:
        """The client called public/test: the pending heartbeat is answered."""
        self._answered_test.set()

    # ---- Session protocol (used by the handlers) -------------------------------------------
    def subscribe(self, channels: list[str], *, private: bool) -> list[str]:
        """Subscribe to the channels this connection may have; returns those accepted."""
        accepted: list[Channel] = []
        for name in channels:
            channel = self._parse(name)
            if channel is None or channel.private != private:
                continue
            if channel.needs_auth and self.account is None:
                continue
            self.channels[name] = channel
            self.published.pop(name, None)
            accepted.append(channel)
        if accepted and self.on_subscribe is not None:
            self.on_subscribe(self, accepted)
        return [c.name for c in accepted]

    def unsubscribe(self, channels: list[str]) -> list[str]:
        """Unsubscribe; returns the channels that were subscribed."""
        removed = [name for name in channels if self.channels.pop(name, None) is not None]
        for name in removed:
            self.published.pop(name, None)
        return removed

    def set_heartbeat(self, interval_s: float | None) -> None:
        """Send test_request heartbeats every `interval_s` (None stops them)."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        if interval_s is not None:
            if interval_s < self._heartbeat_min_s:
                raise invalid_param("interval", f"must be at least {self._heartbeat_min_s:g}")
            self._heartbeat = asyncio.create_task(self._heartbeat_loop(interval_s))

    # ---- internals --------------------------------------------------------------------------
    async def _write_loop(self) -> None:
        while True:
            frame = await self._queue.get()
            if frame is None:
                return
            try:
                await self.ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError):
                return

    async def _heartbeat_loop(self, interval_s: float) -> None:
        while not self.ws.closed:
            self._answered_test.clear()
            self.enqueue(HEARTBEAT_TEST)
            try:
                await asyncio.wait_for(self._answered_test.wait(), timeout=interval_s)
            except TimeoutError:
                _log.info("deribit_sim.heartbeat.missed", account=self.account)
                await self.close(WSCloseCode.POLICY_VIOLATION)
                return
            await asyncio.sleep(interval_s)


def _session(call: Call) -> WsSession:
    if not isinstance(call.session, WsSession):
        raise RpcError(10030, "must_be_websocket_request")
    return call.session


async def public_subscribe(state: VenueState, call: Call) -> Any:
    """``public/subscribe``: the channels subscribed."""
    return _session(call).subscribe(call.params.text_list("channels"), private=False)


async def private_subscribe(state: VenueState, call: Call) -> Any:
    """``private/subscribe``: needs an authorised connection."""
    session = _session(call)
    if session.account is None:
        raise RpcError(UNAUTHORIZED)
    channels = call.params.text_list("channels")
    public = [c for c in channels if not c.startswith("user.")]
    private = [c for c in channels if c.startswith("user.")]
    return session.subscribe(private, private=True) + session.subscribe(public, private=False)


async def unsubscribe(state: VenueState, call: Call) -> Any:
    """``public/unsubscribe`` and ``private/unsubscribe``: the channels removed."""
    return _session(call).unsubscribe(call.params.text_list("channels"))


async def unsubscribe_all(state: VenueState, call: Call) -> Any:
    """``public/unsubscribe_all``: "ok"."""
    session = _session(call)
    session.unsubscribe(list(session.channels))
    return "ok"


async def set_heartbeat(state: VenueState, call: Call) -> Any:
    """``public/set_heartbeat``: "ok"; test requests follow every `interval` seconds."""
    _session(call).set_heartbeat(call.params.number("interval"))
    return "ok"


async def disable_heartbeat(state: VenueState, call: Call) -> Any:
    """``public/disable_heartbeat``: "ok"."""
    _session(call).set_heartbeat(None)
    return "ok"


async def logout(state: VenueState, call: Call) -> Any:
    """``private/logout``: the token is invalidated and the connection closed."""
    session = _session(call)
    if call.access_token is not None:
        state.auth.logout(call.access_token)
    session.account = None
    session.close_after_reply = True
    return "ok"


SESSION_HANDLERS: dict[str, Handler] = {
    "public/subscribe": public_subscribe,
    "private/subscribe": private_subscribe,
    "public/unsubscribe": unsubscribe,
    "private/unsubscribe": unsubscribe,
    "public/unsubscribe_all": unsubscribe_all,
    "private/unsubscribe_all": unsubscribe_all,
    "public/set_heartbeat": set_heartbeat,
    "public/disable_heartbeat": disable_heartbeat,
    "private/logout": logout,
}
