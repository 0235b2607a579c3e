"""Every ccxt (and aiohttp) failure maps to one hedgebot error class, in one place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import aiohttp
import ccxt
import pytest
from ccxt.base.errors import error_hierarchy

from hedgebot.clock import SimulatedClock
from hedgebot.model.errors import (
    AuthenticationFailed,
    BadVenueData,
    OrderNotPlaced,
    OrderOutcomeUnknown,
    OrderRejected,
    TransientVenueError,
    VenueError,
)
from hedgebot.venues.ccxt.errors import (
    RATE_LIMIT_FLOOR_S,
    OrderNotFoundError,
    translate_create_error,
    translate_error,
)
from hedgebot.venues.ccxt.retry import Backoff, retry_call
from tests.support.ccxt_recorded import loaded_exchange


def _all_ccxt_errors(tree: dict[str, Any] = error_hierarchy) -> Iterator[str]:
    for name, children in tree.items():
        yield name
        yield from _all_ccxt_errors(children)


EXPECTED_READ = {
    "NetworkError": TransientVenueError,
    "DDoSProtection": TransientVenueError,
    "RateLimitExceeded": TransientVenueError,
    "ExchangeNotAvailable": TransientVenueError,
    "OnMaintenance": TransientVenueError,
    "InvalidNonce": TransientVenueError,
    "ChecksumError": TransientVenueError,
    "RequestTimeout": TransientVenueError,
    "CancelPending": TransientVenueError,
    "AuthenticationError": AuthenticationFailed,
    "PermissionDenied": AuthenticationFailed,
    "AccountNotEnabled": AuthenticationFailed,
    "AccountSuspended": AuthenticationFailed,
    "OrderNotFound": OrderNotFoundError,
    "InsufficientFunds": OrderRejected,
    "InvalidOrder": OrderRejected,
    "OrderNotCached": OrderRejected,
    "OrderImmediatelyFillable": OrderRejected,
    "OrderNotFillable": OrderRejected,
    "DuplicateOrderId": OrderRejected,
    "ContractUnavailable": OrderRejected,
    "BadRequest": OrderRejected,
    "BadSymbol": OrderRejected,
    "OperationRejected": OrderRejected,
    "NoChange": OrderRejected,
    "MarginModeAlreadySet": OrderRejected,
    "MarketClosed": OrderRejected,
    "ManualInteractionNeeded": OrderRejected,
    "RestrictedLocation": OrderRejected,
    "BadResponse": BadVenueData,
    "NullResponse": BadVenueData,
}


@pytest.mark.parametrize("name", sorted(_all_ccxt_errors()))
def test_every_ccxt_error_class_maps_to_a_hedgebot_error(name: str) -> None:
    """Each ccxt exception class becomes the hedgebot error its meaning calls for."""
    error = translate_error(getattr(ccxt, name)("boom"))
    expected = EXPECTED_READ.get(name, VenueError)
    assert type(error) is expected
    assert name in str(error)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("RequestTimeout", OrderOutcomeUnknown),
        ("NetworkError", OrderOutcomeUnknown),
        ("ExchangeNotAvailable", OrderOutcomeUnknown),
        ("DDoSProtection", OrderNotPlaced),
        ("RateLimitExceeded", OrderNotPlaced),
        ("DuplicateOrderId", OrderOutcomeUnknown),
        ("BadResponse", OrderOutcomeUnknown),
        ("InsufficientFunds", OrderRejected),
        ("InvalidOrder", OrderRejected),
        ("ExchangeError", OrderRejected),
        ("AuthenticationError", AuthenticationFailed),
    ],
)
def test_create_errors_turn_doubt_into_unknown_outcome(name: str, expected: type) -> None:
    """A create that may have reached the venue is UNKNOWN; a clear refusal is REJECTED; a
    rate-limit answer (given before the venue processes the order) means it was not placed."""
    assert type(translate_create_error(getattr(ccxt, name)("x"))) is expected


def test_aiohttp_connection_reset_is_transient() -> None:
    """aiohttp's ClientConnectionResetError (after a websocket rate-limit close) is retryable."""
    error = translate_error(aiohttp.ClientConnectionResetError("reset"))
    assert isinstance(error, TransientVenueError)
    assert isinstance(
        translate_create_error(aiohttp.ClientConnectionResetError("reset")), OrderOutcomeUnknown
    )


def test_rate_limit_honours_retry_after_and_a_floor() -> None:
    """429/418 wait at least Retry-After seconds, and never less than the floor without one."""
    with_header = translate_error(ccxt.DDoSProtection("418"), headers={"Retry-After": "120"})
    without = translate_error(ccxt.RateLimitExceeded("429"))
    assert isinstance(with_header, TransientVenueError)
    assert isinstance(without, TransientVenueError)
    assert with_header.retry_after == 120
    assert without.retry_after == RATE_LIMIT_FLOOR_S


def _deribit_error(code: int, message: str) -> BaseException:
    body = json.dumps({"jsonrpc": "2.0", "error": {"code": code, "message": message}})
    exchange = loaded_exchange("deribit")
    with pytest.raises(ccxt.BaseError) as caught:
        exchange.handle_errors(400, "", "u", "GET", {}, body, json.loads(body), {}, None)
    error: BaseException = caught.value
    return error


@pytest.mark.parametrize(
    ("code", "message", "expected"),
    [
        (10028, "too_many_requests", TransientVenueError),
        (10009, "not_enough_funds", OrderRejected),
        (10004, "order_not_found", OrderNotFoundError),
        (13009, "unauthorized", AuthenticationFailed),
        (10041, "settlement_in_progress", TransientVenueError),
    ],
)
def test_deribit_error_answers_through_real_ccxt(code: int, message: str, expected: type) -> None:
    """Deribit JSON-RPC errors, raised by ccxt's own handler, land in the right hedgebot class."""
    assert type(translate_error(_deribit_error(code, message))) is expected


async def test_reads_are_retried_with_backoff_then_succeed() -> None:
    """Two transient failures are retried after 0.5 s and 1 s of clock time, then succeed."""
    clock = SimulatedClock(0)
    outcomes: list[BaseException | str] = [
        ccxt.RequestTimeout("t"),
        ccxt.ExchangeNotAvailable("n"),
        "ok",
    ]

    async def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    result = await retry_call(call, operation="read", clock=clock, backoff=Backoff(first_s=0.5))
    assert result == "ok"
    assert clock.now_ms() == 1500


async def test_refusals_are_not_retried() -> None:
    """A definite refusal is raised at once as a hedgebot error, chained to ccxt's."""
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        raise ccxt.InsufficientFunds("no")

    with pytest.raises(OrderRejected) as caught:
        await retry_call(call, operation="read", clock=SimulatedClock(0), backoff=Backoff())
    assert calls == 1
    assert isinstance(caught.value.__cause__, ccxt.InsufficientFunds)


async def test_retries_give_up_after_the_last_attempt() -> None:
    """After `attempts` transient failures the last one is raised as TransientVenueError."""
    clock = SimulatedClock(0)

    async def call() -> None:
        raise ccxt.DDoSProtection("slow down")

    with pytest.raises(TransientVenueError):
        await retry_call(
            call, operation="read", clock=clock, backoff=Backoff(attempts=3, first_s=0.1)
        )
    assert clock.now_ms() == 2000  # two waits, each at the 1 s rate-limit floor
