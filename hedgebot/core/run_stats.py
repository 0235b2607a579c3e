"""Run statistics: how long each underlying's delta spent outside its band, and the run summary.

Owns `BandTracker` (time-weighted share of clock time outside the band, measured on the delta
of the positions the venue reports, without hedges in flight: what the book really carried) and
`summary_dict`, the JSON written by ``hedgebot run --summary-json``, and `fee_usd`, the one rule
turning a fee into USD.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def fee_usd(fee: float, currency: str, *, underlying: str, price: float) -> float:
    """A fee in USD: a fee in the underlying's coin (inverse contracts, coin-settled options)
    at `price` (USD per coin), any other currency (USD, USDC, USDT) at par. Negative = rebate."""
    return fee * price if currency == underlying else fee


@dataclass(slots=True)
class BandTracker:
    """Accumulates time inside and outside the band for one underlying."""

    last_ms: int | None = None
    last_outside: bool = False
    outside_ms: int = 0
    total_ms: int = 0

    def observe(self, now_ms: int, *, outside: bool) -> None:
        """Record the state at `now_ms`; the previous state is held for the elapsed time."""
        if self.last_ms is not None and now_ms > self.last_ms:
            elapsed = now_ms - self.last_ms
            self.total_ms += elapsed
            if self.last_outside:
                self.outside_ms += elapsed
        self.last_ms = now_ms
        self.last_outside = outside

    @property
    def share_outside(self) -> float:
        """Share of observed time (0..1) spent outside the band."""
        return self.outside_ms / self.total_ms if self.total_ms else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderlyingSummary:
    """End-of-run figures of one underlying."""

    price: float
    net_delta: float
    net_delta_usd: float
    target: float
    band: float
    hedge_orders: int
    fills: int
    rejects: int
    time_outside_band: float
    fees: Mapping[str, float]
    fees_usd: float
    pnl: Mapping[str, float] = field(default_factory=dict)
    """Live P&L attribution (`hedgebot.core.pnl.LiveAttribution.to_dict`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """The whole run, as written to --summary-json."""

    mode: str
    started_ms: int
    ended_ms: int
    underlyings: Mapping[str, UnderlyingSummary]
    journal: str
    events: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-able data, with totals."""
        rows = {
            name: {
                "price": u.price,
                "net_delta": u.net_delta,
                "net_delta_usd": u.net_delta_usd,
                "target": u.target,
                "band": u.band,
                "hedge_orders": u.hedge_orders,
                "fills": u.fills,
                "rejects": u.rejects,
                "time_outside_band": u.time_outside_band,
                "fees": dict(u.fees),
                "fees_usd": u.fees_usd,
                "pnl": dict(u.pnl),
            }
            for name, u in self.underlyings.items()
        }
        return {
            "mode": self.mode,
            "started_ms": self.started_ms,
            "ended_ms": self.ended_ms,
            "clock_seconds": (self.ended_ms - self.started_ms) / 1000,
            "journal": self.journal,
            "underlyings": rows,
            "totals": {
                "orders": sum(u.hedge_orders for u in self.underlyings.values()),
                "fills": sum(u.fills for u in self.underlyings.values()),
                "fees_usd": sum(u.fees_usd for u in self.underlyings.values()),
                "pnl_usd": sum(u.pnl.get("total_usd", 0.0) for u in self.underlyings.values()),
            },
            "events": dict(self.events),
        }
