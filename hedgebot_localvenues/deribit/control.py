"""The ``/_sim/*`` control routes of the local Deribit exchange, answered to loopback only.

Owns ``GET /_sim/requests`` (the request log, ``?since=<seq>``), ``DELETE /_sim/requests``,
``GET /_sim/status``, ``POST /_sim/advance`` (``{"seconds": s}``: jump simulated time) and, when
enabled, ``GET|POST /_sim/faults`` (JSON commands of `FaultController.apply`). Requests from
anything but 127.0.0.1 / ::1 get 403.

It must not serve Deribit methods.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from hedgebot_localvenues.deribit.server import DeribitSimServer

_LOOPBACK = ("127.0.0.1", "::1")


def add_control_routes(app: web.Application, server: DeribitSimServer, *, faults: bool) -> None:
    """Add the control routes of `server` to `app` (the faults route only if `faults`)."""
    routes = ControlRoutes(server)
    app.router.add_route("GET", "/_sim/requests", routes.get_requests)
    app.router.add_route("DELETE", "/_sim/requests", routes.clear_requests)
    app.router.add_route("GET", "/_sim/status", routes.status)
    app.router.add_route("POST", "/_sim/advance", routes.advance)
    if faults:
        app.router.add_route("GET", "/_sim/faults", routes.get_faults)
        app.router.add_route("POST", "/_sim/faults", routes.post_faults)


class ControlRoutes:
    """Handlers of the control routes."""

    def __init__(self, server: DeribitSimServer) -> None:
        self._server = server

    async def get_requests(self, request: web.Request) -> web.StreamResponse:
        """``GET /_sim/requests?since=<seq>``: the request log."""
        _require_loopback(request)
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            raise web.HTTPBadRequest(text="since must be an integer") from None
        entries = [r.as_json() for r in self._server.requests.entries(since_seq=since)]
        return web.json_response({"requests": entries})

    async def clear_requests(self, request: web.Request) -> web.StreamResponse:
        """``DELETE /_sim/requests``: forget the log."""
        _require_loopback(request)
        self._server.requests.clear()
        return web.json_response({"cleared": True})

    async def status(self, request: web.Request) -> web.StreamResponse:
        """``GET /_sim/status``: clock, sessions, accounts, instruments."""
        _require_loopback(request)
        return web.json_response(
            {
                "now_ms": self._server.state.now_ms(),
                "speed": self._server.speed,
                "paused": self._server.paused,
                "websockets": len(self._server.hub.sessions),
                "accounts": list(self._server.state.auth.accounts()),
                "instruments": sorted(self._server.instrument_names),
            }
        )

    async def advance(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sim/advance {"seconds": s}``: jump simulated time."""
        _require_loopback(request)
        payload = await _json_body(request)
        seconds = payload.get("seconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise web.HTTPBadRequest(text="seconds must be a non-negative number")
        self._server.advance(float(seconds))
        return web.json_response({"now_ms": self._server.state.now_ms()})

    async def get_faults(self, request: web.Request) -> web.StreamResponse:
        """``GET /_sim/faults``: the armed faults."""
        _require_loopback(request)
        return web.json_response(self._server.faults.state())

    async def post_faults(self, request: web.Request) -> web.StreamResponse:
        """``POST /_sim/faults``: run one `FaultController.apply` command."""
        _require_loopback(request)
        try:
            return web.json_response(await self._server.faults.apply(await _json_body(request)))
        except ValueError as error:
            raise web.HTTPBadRequest(text=str(error)) from None


def _require_loopback(request: web.Request) -> None:
    if request.remote not in _LOOPBACK:
        raise web.HTTPForbidden(text="control routes answer loopback clients only")


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        payload = await request.json()
    except json.JSONDecodeError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    if not isinstance(payload, dict):
        raise web.HTTPBadRequest(text="body must be a JSON object")
    return payload
