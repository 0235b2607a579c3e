"""Market snapshots: the latest quote of each instrument and index, as frozen values.

Owns `Quote` (one instrument) and `IndexPrice` (one underlying). Prices are in USD except
`mark_price` of inverse options, which is in coin like the venue quotes it. A quote with a missing,
zero or non-finite price is never constructed by the adapters (they reject it first), so the core
can rely on every field here being finite.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hedgebot.model.instruments import InstrumentKey


@dataclass(frozen=True, slots=True, kw_only=True)
class Quote:
    """Latest top of book and mark of one instrument."""

    key: InstrumentKey
    timestamp_ms: int
    bid: float
    ask: float
    mark_price: float
    underlying_price: float
    """Forward of the instrument's expiry (Deribit `underlying_price`); the mark for perps/spot."""
    mark_iv: float | None = None
    """Implied volatility as a fraction (0.6 = 60%), options only."""
    funding_rate_8h: float | None = None

    def __post_init__(self) -> None:
        for name in ("bid", "ask", "mark_price", "underlying_price"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{self.key}: {name} must be finite and non-negative, got {value}")
        if self.underlying_price <= 0:
            raise ValueError(f"{self.key}: underlying_price must be positive")
        if self.mark_iv is not None and not (0 < self.mark_iv < 20):
            raise ValueError(f"{self.key}: absurd mark_iv {self.mark_iv}")

    @property
    def mid(self) -> float:
        """Mid of bid and ask, or the mark where one side is empty."""
        if self.bid > 0 and self.ask > 0:
            return 0.5 * (self.bid + self.ask)
        return self.mark_price

    @property
    def crossed(self) -> bool:
        """True when the book is crossed (bid above ask): not a price to trade on."""
        return self.bid > 0 and self.ask > 0 and self.bid > self.ask


@dataclass(frozen=True, slots=True, kw_only=True)
class IndexPrice:
    """Spot index of one underlying on one venue (Deribit `btc_usd`)."""

    venue: str
    underlying: str
    price: float
    timestamp_ms: int

    def __post_init__(self) -> None:
        if not math.isfinite(self.price) or self.price <= 0:
            raise ValueError(f"{self.venue}:{self.underlying}: bad index price {self.price}")
