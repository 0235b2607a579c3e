"""The one translation of ccxt (and aiohttp) exceptions into `hedgebot.model.errors`.

Owns `translate_error` (reads, cancels, streams) and `translate_create_error` (order creation,
where any doubt about the outcome becomes `OrderOutcomeUnknown`), plus `OrderNotFoundError`, the
gateway-internal signal that a venue does not know an order. Nothing outside this module inspects
a ccxt exception class.

It must not import ccxt at module import time: an exception raised by ccxt means ccxt is already
loaded, so the classes are looked up in `sys.modules` only.
"""

from __future__ import annotations

import asyncio
import math
import sys
from collections.abc import Mapping
from typing import Any

from hedgebot.model.errors import (
    AuthenticationFailed,
    BadVenueData,
    OrderNotPlaced,
    OrderOutcomeUnknown,
    OrderRejected,
    TransientVenueError,
    VenueError,
)

RATE_LIMIT_FLOOR_S = 1.0
"""Wait at least this long after a rate-limit answer that carries no Retry-After."""


class OrderNotFoundError(VenueError):
    """The venue does not know the order (already gone, or never arrived). Gateway-internal."""


def translate_error(exc: BaseException, *, headers: Mapping[str, Any] | None = None) -> VenueError:
    """The hedgebot error for a failed read, cancel or stream call (never for a create)."""
    if isinstance(exc, VenueError):
        return exc
    ccxt_errors = sys.modules.get("ccxt.base.errors")
    message = f"{type(exc).__name__}: {exc}"
    if ccxt_errors is not None and isinstance(exc, ccxt_errors.BaseError):
        return _translate_ccxt(exc, ccxt_errors, message, headers)
    if _is_connection_trouble(exc):
        return TransientVenueError(message)
    if isinstance(exc, (KeyError, TypeError, ValueError, ArithmeticError)):
        return BadVenueData(message)
    return VenueError(message)


def translate_create_error(
    exc: BaseException, *, headers: Mapping[str, Any] | None = None
) -> VenueError:
    """The hedgebot error for a failed create: network trouble means the order may exist."""
    ccxt_errors = sys.modules.get("ccxt.base.errors")
    if ccxt_errors is not None and isinstance(exc, ccxt_errors.DuplicateOrderId):
        return OrderOutcomeUnknown(f"client id already used, the order may exist: {exc}")
    if ccxt_errors is not None and isinstance(
        exc, ccxt_errors.DDoSProtection | ccxt_errors.RateLimitExceeded
    ):
        # An answer from the venue (HTTP 429/418 or Deribit 10028), given before the order is
        # processed: it was not placed. The caller still checks the label before believing it.
        return OrderNotPlaced(f"rate limited, not placed: {exc}")
    if ccxt_errors is not None and isinstance(exc, ccxt_errors.BadResponse):
        return OrderOutcomeUnknown(f"unreadable answer to a create: {exc}")
    translated = translate_error(exc, headers=headers)
    if isinstance(translated, TransientVenueError):
        return OrderOutcomeUnknown(f"no definite answer to a create: {translated}")
    if isinstance(translated, AuthenticationFailed | OrderRejected | OrderOutcomeUnknown):
        return translated
    if isinstance(translated, BadVenueData):
        return OrderOutcomeUnknown(f"unreadable answer to a create: {translated}")
    return OrderRejected(str(translated))


def _translate_ccxt(
    exc: BaseException, errors: Any, message: str, headers: Mapping[str, Any] | None
) -> VenueError:
    if isinstance(exc, errors.DDoSProtection | errors.RateLimitExceeded):
        wait = retry_after_seconds(headers)
        return TransientVenueError(message, retry_after=max(wait or 0.0, RATE_LIMIT_FLOOR_S))
    if isinstance(exc, errors.NetworkError | errors.CancelPending):
        return TransientVenueError(message, retry_after=retry_after_seconds(headers))
    if isinstance(exc, errors.AuthenticationError):
        return AuthenticationFailed(message)
    if isinstance(exc, errors.OrderNotFound):
        return OrderNotFoundError(message)
    if isinstance(
        exc,
        errors.InsufficientFunds
        | errors.InvalidOrder
        | errors.BadRequest
        | errors.OperationRejected,
    ):
        return OrderRejected(message)
    if isinstance(exc, errors.BadResponse):
        return BadVenueData(message)
    return VenueError(message)


def _is_connection_trouble(exc: BaseException) -> bool:
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None and isinstance(exc, aiohttp.ClientError):
        return True  # includes ClientConnectionResetError after a websocket rate-limit close
    return isinstance(exc, ConnectionError | TimeoutError | asyncio.TimeoutError | OSError)


def retry_after_seconds(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds from an HTTP Retry-After header (delta-seconds form), if present and sane."""
    if not headers:
        return None
    for name, value in headers.items():
        if str(name).lower() != "retry-after":
            continue
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            return None
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    return None
