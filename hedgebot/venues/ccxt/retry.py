"""Backoff and retries for venue reads and cancels (never for creates).

Owns `Backoff` (capped exponential delays, honouring a venue's Retry-After) and `retry_call`, which
runs one venue call, translates its failure once (`hedgebot.venues.ccxt.errors`) and retries only
`TransientVenueError`. Waiting goes through a `hedgebot.clock.Clock`, so tests never sleep.

It must not be used around order creation: a timed-out create may have reached the venue.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from hedgebot.clock import Clock
from hedgebot.model.errors import TransientVenueError, VenueError
from hedgebot.venues.ccxt.errors import translate_error

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Delays of ``first_s · factor^n`` seconds, capped at ``cap_s``."""

    first_s: float = 0.5
    factor: float = 2.0
    cap_s: float = 30.0
    attempts: int = 5
    """How many times a call is tried in all (reads and cancels)."""

    def delay(self, attempt: int, *, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        computed = min(self.cap_s, self.first_s * self.factor**attempt)
        if retry_after is not None:
            return max(computed, retry_after)
        return computed


async def retry_call(
    call: Callable[[], Awaitable[T]],
    *,
    operation: str,
    clock: Clock,
    backoff: Backoff,
    headers: Callable[[], Mapping[str, Any] | None] = lambda: None,
) -> T:
    """Run `call`, retrying transient venue errors with backoff; raise hedgebot errors only."""
    for attempt in range(backoff.attempts):
        try:
            return await call()
        except Exception as exc:  # translated below: nothing ccxt-typed escapes
            error = translate_error(exc, headers=headers())
            if not isinstance(error, TransientVenueError) or attempt + 1 >= backoff.attempts:
                raise error from exc
            wait = backoff.delay(attempt, retry_after=error.retry_after)
            log.warning(
                "venue.retrying",
                operation=operation,
                attempt=attempt + 1,
                wait_s=wait,
                error=str(error),
            )
            await clock.sleep(wait)
    raise VenueError(f"{operation}: no attempt was made")  # only with attempts <= 0


def is_own_cancellation() -> bool:
    """True when the current task itself is being cancelled.

    ccxt cancels the futures of pending ``watch_*`` calls when a websocket client is closed; the
    awaiting task then sees CancelledError although nobody cancelled *it*. Loops use this to tell
    a recycled socket (retry) from their own cancellation (stop).
    """
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
