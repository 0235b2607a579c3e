"""The one path every JSON-RPC call takes, over HTTP or websocket.

Owns `Dispatcher.dispatch`: injected faults first (an armed error answers instead of the
method), Deribit's credit limits when enforced (an empty pool answers too_many_requests and
closes the connection), then the handler (private methods need an authenticated account:
13009 otherwise), then the armed answer delay and lost-answer faults, and finally one
`RequestLog` record per call. It returns an `Outcome` the transport carries out (answer,
withhold, close).

It must not touch sockets: transports act on the `Outcome`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from hedgebot_localvenues.deribit.calls import Call, Handler, Session
from hedgebot_localvenues.deribit.faults import FaultController, Injected, LossMode
from hedgebot_localvenues.deribit.private_methods import PRIVATE_HANDLERS
from hedgebot_localvenues.deribit.public_methods import PUBLIC_HANDLERS
from hedgebot_localvenues.deribit.ratelimit import CreditPools
from hedgebot_localvenues.deribit.requestlog import ORDER_ENTRY_METHODS, RequestLog, Transport
from hedgebot_localvenues.deribit.rpc import (
    METHOD_NOT_FOUND,
    TOO_MANY_REQUESTS,
    UNAUTHORIZED,
    Params,
    RpcError,
    error_frame,
    result_frame,
)
from hedgebot_localvenues.deribit.session import SESSION_HANDLERS
from hedgebot_localvenues.deribit.state import VenueState

_log = structlog.get_logger(__name__)
INTERNAL_ERROR = 11094
Authorizer = Callable[[], str | None]
"""The account a call is authenticated as (None: anonymous); raises RpcError if the
credentials presented are invalid."""


_CREATE_METHODS = frozenset({"private/buy", "private/sell"})
_CANCEL_METHODS = frozenset({"private/cancel", "private/cancel_by_label"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One incoming call, as a transport hands it over."""

    method: str
    params: Mapping[str, Any]
    request_id: Any
    transport: Transport
    authorize: Authorizer
    session: Session | None = None
    access_token: str | None = None
    client: str = ""
    """The caller's address: whose credit pays for anonymous calls."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What the transport must do with one call."""

    frame: dict[str, Any]
    """The answer (withheld when `loss` is set)."""
    close: bool = False
    """Close the connection after answering (too_many_requests)."""
    loss: LossMode | None = None
    """The call was executed but its answer must be lost this way."""

    @property
    def is_error(self) -> bool:
        """True when the answer is an error."""
        return "error" in self.frame


class Dispatcher:
    """Runs calls against the venue state under the armed faults, and logs them."""

    def __init__(
        self,
        state: VenueState,
        faults: FaultController,
        log: RequestLog,
        credits: CreditPools | None = None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.log = log
        self.credits = credits
        """Deribit's rate limits, when enforced."""
        self.handlers: dict[str, Handler] = {
            **PUBLIC_HANDLERS,
            **PRIVATE_HANDLERS,
            **SESSION_HANDLERS,
        }

    async def dispatch(self, request: Request) -> Outcome:
        """Run one call and say how to answer it (after the armed delay, if any)."""
        received_us = self.state.now_ms() * 1000
        injected = self.faults.take_error(request.method)
        if injected is None and not self._has_credit(request):
            injected = Injected(error=RpcError(TOO_MANY_REQUESTS), close_connection=True)
        if injected is None:
            spacing = self.faults.method_delay_ms.get(request.method, 0)
            if spacing:
                await asyncio.sleep(spacing / 1000)
            outcome = await self._run(request, received_us)
        else:
            account = None
            with contextlib.suppress(RpcError):
                account = request.authorize()
            failed = self._failed(request, received_us, account, injected.error)
            outcome = Outcome(frame=failed.frame, close=injected.close_connection)
        if self.faults.delay_ms:
            await asyncio.sleep(self.faults.delay_ms / 1000)
        return outcome

    async def _run(self, request: Request, received_us: int) -> Outcome:
        account: str | None = None
        session_account = getattr(request.session, "account", None)
        try:
            handler = self.handlers.get(request.method)
            if handler is None:
                raise RpcError(METHOD_NOT_FOUND)
            account = request.authorize()
            if request.method.startswith("private/") and account is None:
                raise RpcError(UNAUTHORIZED)
            call = Call(
                method=request.method,
                params=Params(self._params_of(request)),
                account=account,
                session=request.session,
                access_token=request.access_token,
            )
            muted = request.method in _CANCEL_METHODS and self.faults.take_lost_cancel()
            self.faults.muted_orders += int(muted)
            try:
                result = await handler(self.state, call)
            finally:
                self.faults.muted_orders -= int(muted)
        except RpcError as error:
            return self._failed(request, received_us, account or session_account, error)
        except Exception as error:  # a bug in the simulator must still answer like Deribit
            _log.exception("deribit_sim.handler.failed", method=request.method)
            failure = RpcError(INTERNAL_ERROR, "internal_server_error", data={"reason": str(error)})
            return self._failed(request, received_us, account, failure)
        account = account or getattr(request.session, "account", None)
        loss = self.faults.take_loss(request.method)
        self._record(request, received_us, account, "ok" if loss is None else "lost")
        frame = result_frame(
            request.request_id, result, received_us=received_us, sent_us=self._now_us()
        )
        return Outcome(frame=frame, loss=loss)

    def _params_of(self, request: Request) -> Mapping[str, Any]:
        """The call's parameters; an order armed to rest gets a limit just off the touch on
        its own side (the book moved away while it travelled)."""
        params = request.params
        if request.method not in _CREATE_METHODS or not self.faults.take_resting():
            return params
        instrument = self.state.instrument(str(params.get("instrument_name", "")))
        quote = self.state.market.quote(instrument)
        low, high = self.state.market.price_band(instrument, quote)
        if request.method == "private/buy":
            price = instrument.round_price(max(low, quote.mark_price * 0.99), up=False)
        else:
            price = instrument.round_price(min(high, quote.mark_price * 1.01), up=True)
        return {**params, "price": price, "type": "limit"}

    def _failed(
        self, request: Request, received_us: int, account: str | None, error: RpcError
    ) -> Outcome:
        self._record(request, received_us, account, f"error:{error.code}")
        frame = error_frame(
            request.request_id, error, received_us=received_us, sent_us=self._now_us()
        )
        return Outcome(frame=frame)

    def _record(
        self, request: Request, received_us: int, account: str | None, outcome: str
    ) -> None:
        self.log.record(
            transport=request.transport,
            method=request.method,
            account=account,
            timestamp_ms=received_us // 1000,
            outcome=outcome,
            params=request.params,
        )

    def _has_credit(self, request: Request) -> bool:
        if self.credits is None:
            return True
        account = None
        with contextlib.suppress(RpcError):
            account = request.authorize()
        matching = request.method in ORDER_ENTRY_METHODS
        return self.credits.take(account or request.client, matching=matching)

    def _now_us(self) -> int:
        return self.state.now_ms() * 1000
