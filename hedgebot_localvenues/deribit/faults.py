"""Fault injection for the local Deribit exchange: the failures a live venue throws at a client.

Owns `FaultController`, driven programmatically by tests or by JSON posted to
``/_sim/faults`` (`apply`):

* ``drop_websockets``: close every websocket now (ccxt's pending ``watch_*`` raise NetworkError);
* ``error_frame``: push a JSON-RPC error frame on every websocket (stalls ccxt's receive loop);
* ``delay``: hold every answer back by some milliseconds;
* ``rate_limit``: answer the next N calls with ``too_many_requests`` (10028) and close the
  connection, as Deribit does when the credit pool is empty;
* ``fail``: answer the next N calls of one method with any Deribit error code;
* ``lose_order``: execute the next order but withhold its answer (``hang``: never answer;
  ``close``: drop the HTTP connection, which aiohttp re-sends once as a GET);

and the timing a live venue varies (each until ``reset``):

* ``method_delay``: hold one method's calls back *before* they run (the rate-limit spacing
  between the requests of one read: a fill can land between ``get_positions`` and
  ``get_account_summaries``);
* ``notify_delay``: deliver one private channel family (``user.orders``, ``user.trades``,
  ``user.changes``, ``user.portfolio``) late, so fills, trade and order notifications, position
  updates and account summaries arrive in any order;
* ``lose_cancel_confirmation``: the next N cancels take effect but their order notifications
  are never sent (the answer to the cancel call itself still is);
* ``rest_orders``: the next N orders rest instead of crossing (the book moved away before they
  arrived), so they must be cancelled.

It must not execute calls itself: the server asks it what to do with each one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from hedgebot_localvenues.deribit.rpc import ERROR_MESSAGES, TOO_MANY_REQUESTS, RpcError

LossMode = Literal["hang", "close"]
ORDER_METHODS = frozenset({"private/buy", "private/sell"})


class WebsocketFleet(Protocol):
    """The open websockets of the exchange, as the fault controller needs them."""

    async def drop_all(self) -> int:
        """Close every websocket; return how many were open."""
        ...

    async def broadcast(self, frame: Mapping[str, Any]) -> int:
        """Send one frame on every websocket; return how many received it."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRule:
    """Answer the next `remaining` calls of `methods` (None: any method) with `code`."""

    code: int
    message: str
    remaining: int
    methods: frozenset[str] | None = None
    close_connection: bool = False

    def matches(self, method: str) -> bool:
        """True when this rule applies to `method`."""
        return self.remaining > 0 and (self.methods is None or method in self.methods)

    def error(self) -> RpcError:
        """The error to answer with."""
        return RpcError(self.code, self.message)


@dataclass(frozen=True, slots=True, kw_only=True)
class Injected:
    """What to do to one call: fail it (and maybe close its connection)."""

    error: RpcError
    close_connection: bool


class FaultController:
    """Pending faults; consulted by the server for every call."""

    def __init__(self, fleet: WebsocketFleet) -> None:
        self._fleet = fleet
        self.delay_ms = 0
        self._rules: list[ErrorRule] = []
        self._losses: list[LossMode] = []
        self.method_delay_ms: dict[str, int] = {}
        self.notify_delay_ms: dict[str, int] = {}
        self._lost_cancels = 0
        self._resting = 0
        self.muted_orders = 0
        """While positive, order notifications are not sent (a cancel whose confirmation is
        lost is running)."""

    # ---- arming faults -------------------------------------------------------------------
    def delay(self, ms: int) -> None:
        """Hold every answer back by `ms` milliseconds (0 turns the delay off)."""
        if ms < 0:
            raise ValueError("delay must not be negative")
        self.delay_ms = ms

    def rate_limit_next(self, count: int = 1, *, methods: Collection[str] | None = None) -> None:
        """Answer the next `count` calls with too_many_requests and close their connection."""
        self.fail_next(count=count, code=TOO_MANY_REQUESTS, methods=methods, close=True)

    def fail_next(
        self,
        *,
        code: int,
        count: int = 1,
        methods: Collection[str] | None = None,
        message: str | None = None,
        close: bool = False,
    ) -> None:
        """Answer the next `count` calls of `methods` (any method if None) with error `code`."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._rules.append(
            ErrorRule(
                code=code,
                message=message or ERROR_MESSAGES.get(code, "error"),
                remaining=count,
                methods=None if methods is None else frozenset(methods),
                close_connection=close,
            )
        )

    def lose_next_order(self, count: int = 1, *, mode: LossMode = "hang") -> None:
        """Execute the next `count` orders (buy/sell) but withhold their answers."""
        if count < 1:
            raise ValueError("count must be at least 1")
        if mode not in ("hang", "close"):
            raise ValueError(f"unknown loss mode {mode!r}")
        self._losses.extend([mode] * count)

    def delay_method(self, method: str, ms: int) -> None:
        """Hold every call of `method` back `ms` milliseconds before it runs (0: no more)."""
        if ms < 0:
            raise ValueError("delay must not be negative")
        self.method_delay_ms[method] = ms

    def delay_notifications(self, family: str, ms: int) -> None:
        """Deliver notifications of the private channel `family` `ms` milliseconds late."""
        if ms < 0:
            raise ValueError("delay must not be negative")
        self.notify_delay_ms[family] = ms

    def lose_cancel_confirmations(self, count: int = 1) -> None:
        """The next `count` cancels work, but no order notification tells about them."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._lost_cancels += count

    def rest_next_orders(self, count: int = 1) -> None:
        """The next `count` orders rest on the book instead of crossing it."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._resting += count

    async def drop_websockets(self) -> int:
        """Close every open websocket now; return how many were closed."""
        return await self._fleet.drop_all()

    async def send_error_frame(self, *, code: int = 11094, message: str | None = None) -> int:
        """Push ``{"jsonrpc": "2.0", "error": {...}}`` on every websocket; return the count."""
        error = RpcError(code, message or ERROR_MESSAGES.get(code, "internal_server_error"))
        return await self._fleet.broadcast({"jsonrpc": "2.0", "error": error.as_json()})

    def reset(self) -> None:
        """Disarm every pending fault and the delay."""
        self.delay_ms = 0
        self._rules.clear()
        self._losses.clear()
        self.method_delay_ms.clear()
        self.notify_delay_ms.clear()
        self._lost_cancels = 0
        self._resting = 0

    # ---- consulted by the server ---------------------------------------------------------
    def take_error(self, method: str) -> Injected | None:
        """The injected failure for this call, if any (consumes one use of the rule)."""
        for index, rule in enumerate(self._rules):
            if rule.matches(method):
                used = replace(rule, remaining=rule.remaining - 1)
                if used.remaining > 0:
                    self._rules[index] = used
                else:
                    del self._rules[index]
                return Injected(error=rule.error(), close_connection=rule.close_connection)
        return None

    def take_loss(self, method: str) -> LossMode | None:
        """How to lose this order's answer, if it is to be lost (consumes it)."""
        if method in ORDER_METHODS and self._losses:
            return self._losses.pop(0)
        return None

    def take_lost_cancel(self) -> bool:
        """True if this user cancel's notifications are to be lost (consumes one)."""
        if self._lost_cancels > 0:
            self._lost_cancels -= 1
            return True
        return False

    def take_resting(self) -> bool:
        """True if this order is to rest rather than cross (consumes one)."""
        if self._resting > 0:
            self._resting -= 1
            return True
        return False

    def state(self) -> dict[str, Any]:
        """The armed faults, as JSON data."""
        return {
            "delay_ms": self.delay_ms,
            "errors": [
                {
                    "code": r.code,
                    "remaining": r.remaining,
                    "methods": None if r.methods is None else sorted(r.methods),
                    "close_connection": r.close_connection,
                }
                for r in self._rules
            ],
            "lost_orders": list(self._losses),
            "method_delay_ms": dict(self.method_delay_ms),
            "notify_delay_ms": dict(self.notify_delay_ms),
            "lost_cancel_confirmations": self._lost_cancels,
            "resting_orders": self._resting,
        }

    async def apply(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Run one JSON command of the control endpoint; ValueError if it is malformed."""
        action = command.get("action")
        count = _int(command, "count", 1)
        methods = command.get("methods")
        if methods is not None and not (
            isinstance(methods, list) and all(isinstance(m, str) for m in methods)
        ):
            raise ValueError("methods must be a list of method names")
        done: dict[str, Any] = {"action": action}
        if action == "drop_websockets":
            done["closed"] = await self.drop_websockets()
        elif action == "error_frame":
            code = _int(command, "code", 11094)
            done["sent"] = 0
            for _ in range(_int(command, "frames", 1)):
                done["sent"] += await self.send_error_frame(
                    code=code, message=command.get("message")
                )
        elif action == "delay":
            self.delay(_int(command, "ms", 0))
        elif action == "rate_limit":
            self.rate_limit_next(count, methods=methods)
        elif action == "fail":
            self.fail_next(
                code=_int(command, "code", 10001),
                count=count,
                methods=methods,
                message=command.get("message"),
                close=bool(command.get("close", False)),
            )
        elif action == "lose_order":
            self.lose_next_order(count, mode=command.get("mode", "hang"))
        elif action == "reset":
            self.reset()
        elif not self._apply_timing(action, command, count):
            raise ValueError(f"unknown action {action!r}")
        done["state"] = self.state()
        return done

    def _apply_timing(self, action: object, command: Mapping[str, Any], count: int) -> bool:
        """The timing commands; False if `action` is none of them."""
        if action == "method_delay":
            self.delay_method(_text(command, "method"), _int(command, "ms", 0))
        elif action == "notify_delay":
            self.delay_notifications(_text(command, "family"), _int(command, "ms", 0))
        elif action == "lose_cancel_confirmation":
            self.lose_cancel_confirmations(count)
        elif action == "rest_orders":
            self.rest_next_orders(count)
        else:
            return False
        return True


def _int(command: Mapping[str, Any], name: str, default: int) -> int:
    value = command.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer")
    return value


def _text(command: Mapping[str, Any], name: str) -> str:
    value = command.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return value
