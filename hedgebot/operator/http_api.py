"""The operator HTTP endpoint: health, readiness, metrics, status and authenticated control.

Owns `OperatorServer` (an aiohttp server started and stopped as an async context manager), the
`OperatorView` protocol it reads the daemon through, and the documented shape of /status.

Routes::

    GET  /healthz                 200 alive / 503 not      (liveness: the loop is turning)
    GET  /readyz                  200 ready / 503 + reasons (readiness: data fresh, reconciled)
    GET  /metrics                 Prometheus text format
    GET  /status                  JSON snapshot of the book (`TurnView.to_dict`)
    POST /control/halt            {"reason": "..."} optional     } Authorization: Bearer <token>
    POST /control/resume                                         } 401 without, 403 wrong,
    POST /control/flatten-hedges                                 } 403 when no token configured

It binds 127.0.0.1 unless told otherwise (binding elsewhere is logged as a warning). It must not
block the event loop: every `OperatorView` method must be a cheap read or must only *schedule*
work (halt, resume and flatten are requests the engine carries out on its own loop turn).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol, Self

import structlog
from aiohttp import web
from pydantic import SecretStr

from hedgebot.operator.metrics import CONTENT_TYPE

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "HealthReport",
    "MetricsSource",
    "OperatorServer",
    "OperatorView",
    "ReadinessReport",
]

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 9102
_MAX_REASON_CHARS: Final = 200

_log = structlog.get_logger("hedgebot.http")


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthReport:
    """Liveness: `alive` when the engine loop turned recently enough."""

    alive: bool
    last_turn_ms: int | None
    """Epoch ms of the last loop turn, None before the first."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessReport:
    """Readiness: `ready` when trading inputs are fresh and state is reconciled; else why not."""

    ready: bool
    reasons: list[str] = field(default_factory=list)


class OperatorView(Protocol):
    """What the HTTP endpoint may ask of the daemon. Each call must return promptly."""

    def health(self) -> HealthReport: ...

    def readiness(self) -> ReadinessReport: ...

    def status(self) -> Mapping[str, object]:
        """A JSON-able snapshot: `hedgebot.model.view.TurnView.to_dict()` (non-finite floats are
        sent as the strings "inf"/"nan", so the JSON stays strict)."""
        ...

    def halt(self, reason: str) -> None:
        """Request HALTED trading (no new hedges) with the operator's reason."""
        ...

    def resume(self) -> None:
        """Request a return to ACTIVE trading."""
        ...

    def flatten_hedges(self) -> str:
        """Request closing hedge positions; return a human-readable summary of what is planned."""
        ...


class MetricsSource(Protocol):
    """Anything that renders Prometheus text (`hedgebot.operator.metrics.Metrics`)."""

    def render(self) -> bytes: ...


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class OperatorServer:
    """Serves the routes of the module docstring while the `async with` block runs."""

    def __init__(
        self,
        view: OperatorView,
        metrics: MetricsSource,
        *,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        control_token: SecretStr | None = None,
    ) -> None:
        self._view = view
        self._metrics = metrics
        self._host = host
        self._port = port
        self._token = control_token.get_secret_value().encode() if control_token else None
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    def __repr__(self) -> str:
        control = self._token is not None
        return f"OperatorServer(host={self._host!r}, port={self._port}, control={control})"

    @property
    def port(self) -> int:
        """The port actually bound (useful when constructed with port=0)."""
        if self._bound_port is None:
            raise RuntimeError("OperatorServer is not running")
        return self._bound_port

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. `http://127.0.0.1:9102`."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> Self:
        runner = web.AppRunner(self._build_app(), access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._bound_port = _bound_port(runner, self._port)
        if not _is_loopback(self._host):
            _log.warning("http.bound_beyond_loopback", host=self._host, port=self._bound_port)
        _log.info("http.started", host=self._host, port=self._bound_port)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._bound_port = None
            _log.info("http.stopped")

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=4096)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_route)
        app.router.add_get("/status", self._status)
        app.router.add_post("/control/halt", self._control(self._halt))
        app.router.add_post("/control/resume", self._control(self._resume))
        app.router.add_post("/control/flatten-hedges", self._control(self._flatten))
        return app

    async def _healthz(self, _: web.Request) -> web.Response:
        try:
            report = self._view.health()
        except Exception:
            _log.exception("http.view_failed", route="/healthz")
            return _json({"alive": False, "error": "health check failed"}, status=503)
        body = {"alive": report.alive, "last_turn_ms": report.last_turn_ms}
        return _json(body, status=200 if report.alive else 503)

    async def _readyz(self, _: web.Request) -> web.Response:
        try:
            report = self._view.readiness()
        except Exception:
            _log.exception("http.view_failed", route="/readyz")
            return _json({"ready": False, "reasons": ["readiness check failed"]}, status=503)
        body = {"ready": report.ready, "reasons": list(report.reasons)}
        return _json(body, status=200 if report.ready else 503)

    async def _metrics_route(self, _: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def _status(self, _: web.Request) -> web.Response:
        try:
            snapshot = self._view.status()
        except Exception:
            _log.exception("http.view_failed", route="/status")
            return _json({"error": "status unavailable"}, status=500)
        return _json(snapshot)

    def _control(self, action: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            denied = self._deny(request)
            if denied is not None:
                return denied
            try:
                return await action(request)
            except web.HTTPException:
                raise
            except Exception:
                _log.exception("control.failed", route=request.path)
                return _json({"ok": False, "error": "control action failed"}, status=500)

        return guarded

    def _deny(self, request: web.Request) -> web.Response | None:
        """None when the request carries the control token; else the 401/403 answer."""
        if self._token is None:
            return _json(
                {
                    "ok": False,
                    "error": "control is disabled (no token)",
                    "refusal": "control_disabled",
                },
                status=403,
            )
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return _json(
                {"ok": False, "error": "bearer token required", "refusal": "token_missing"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="hedgebot"'},
            )
        if not hmac.compare_digest(presented.strip().encode(), self._token):
            _log.warning("control.denied", route=request.path, peer=request.remote)
            return _json(
                {"ok": False, "error": "wrong token", "refusal": "token_wrong"}, status=403
            )
        return None

    async def _halt(self, request: web.Request) -> web.Response:
        reason = await _reason(request)
        self._view.halt(reason)
        _log.warning("control.halt_requested", reason=reason, peer=request.remote)
        return _json({"ok": True, "action": "halt", "message": f"halt requested: {reason}"})

    async def _resume(self, request: web.Request) -> web.Response:
        self._view.resume()
        _log.warning("control.resume_requested", peer=request.remote)
        return _json({"ok": True, "action": "resume", "message": "resume requested"})

    async def _flatten(self, request: web.Request) -> web.Response:
        summary = self._view.flatten_hedges()
        _log.warning("control.flatten_requested", summary=summary, peer=request.remote)
        return _json({"ok": True, "action": "flatten-hedges", "message": summary})


async def _reason(request: web.Request) -> str:
    """The optional `reason` of a halt request body, capped; a default when absent."""
    default = "operator request via HTTP"
    if not request.can_read_body:
        return default
    try:
        payload = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text='body must be JSON like {"reason": "..."}') from exc
    reason = payload.get("reason") if isinstance(payload, dict) else None
    if not isinstance(reason, str) or not reason.strip():
        return default
    return reason.strip()[:_MAX_REASON_CHARS]


def _json(
    body: object, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    text = json.dumps(_jsonable(body), default=str, allow_nan=False)
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


def _jsonable(value: object) -> object:
    """Strict-JSON copy: non-finite floats become "inf"/"-inf"/"nan" strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
