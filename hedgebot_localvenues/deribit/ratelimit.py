"""Deribit's credit-based rate limits, optionally enforced by the local exchange.

Owns `CreditPools`: one token bucket per client (the account once authenticated, else the
connection's address) and engine, refilled continuously on a monotonic wall clock (rate limits
are about real time, not simulated time). Defaults follow Deribit's published tiers, as
``get_account_summaries`` reports them: non-matching-engine calls 20 per second with a burst
of 100, matching-engine calls (order entry) 5 per second with a burst of 20. An empty bucket
means ``too_many_requests`` (10028) and a closed connection.

It must not know about transports or handlers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditPolicy:
    """A bucket of `burst` calls refilled at `rate` calls per second."""

    burst: float
    rate: float


NON_MATCHING = CreditPolicy(burst=100, rate=20)
MATCHING = CreditPolicy(burst=20, rate=5)


class CreditPools:
    """Token buckets per (client, engine)."""

    def __init__(
        self,
        *,
        non_matching: CreditPolicy = NON_MATCHING,
        matching: CreditPolicy = MATCHING,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policies = {False: non_matching, True: matching}
        self._monotonic = monotonic
        self._buckets: dict[tuple[str, bool], tuple[float, float]] = {}

    def take(self, client: str, *, matching: bool) -> bool:
        """Spend one call's credit; False when the bucket is empty."""
        policy = self._policies[matching]
        now = self._monotonic()
        level, since = self._buckets.get((client, matching), (policy.burst, now))
        level = min(policy.burst, level + (now - since) * policy.rate)
        if level < 1:
            self._buckets[(client, matching)] = (level, now)
            return False
        self._buckets[(client, matching)] = (level - 1, now)
        return True
