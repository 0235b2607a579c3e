"""Delta, vega and basis per expiry: the term structure behind an underlying's net figures.

Owns `ExpiryRisk` and `term_risk`: the contributions of `hedgebot.core.risk` grouped by the
expiry of their instrument (options and dated futures by expiry date, perpetuals and spot as
"perp", collateral as "collateral"), with the expiry's forward and its basis to the index
(F / S − 1) where a quote carries one, and a vega limit check (`vega_limits`, USD per vol point
per expiry, absolute). Pure over risk's report; it must not format text or decide trading.

A book delta-neutral in total can hold offsetting deltas at different expiries: hedged with a
perpetual, a long-dated position's delta moves with its own forward, not the index, so the
basis per expiry is the exposure the net figure hides.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

from hedgebot.core.risk import RiskReport
from hedgebot.model.instruments import Instrument, InstrumentKey, Kind
from hedgebot.model.market import Quote

PERP = "perp"
COLLATERAL = "collateral"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpiryRisk:
    """One underlying's positions of one expiry. Delta coin, vega USD per vol point."""

    underlying: str
    expiry: str
    """'2026-03-27', or 'perp' / 'collateral'."""
    expiry_ms: int | None
    delta: float
    vega: float
    forward: float | None
    """The expiry's forward (an option's underlying price, a future's mark), None if unknown."""
    basis: float | None
    """forward / index − 1, None without a forward."""
    vega_limit: float | None = None

    @property
    def vega_breached(self) -> bool:
        """True when |vega| exceeds the configured limit of this underlying."""
        return self.vega_limit is not None and abs(self.vega) > self.vega_limit


def term_risk(
    *,
    report: RiskReport,
    instruments: Mapping[InstrumentKey, Instrument],
    quotes: Mapping[InstrumentKey, Quote],
    vega_limits: Mapping[str, float] | None = None,
) -> tuple[ExpiryRisk, ...]:
    """Per underlying and expiry (soonest first, then perp and collateral)."""
    by_source = {str(k): (k, i) for k, i in instruments.items()}
    limits = vega_limits or {}
    rows: list[ExpiryRisk] = []
    for underlying, risk in report.underlyings.items():
        sums: dict[str, list[float]] = {}
        meta: dict[str, tuple[int | None, float | None]] = {}
        for c in risk.contributions:
            found = by_source.get(c.source)
            if found is None:
                name, expiry_ms, forward = COLLATERAL, None, None
            else:
                key, instrument = found
                name, expiry_ms = _bucket(instrument)
                quote = quotes.get(key)
                forward = _forward(instrument, quote)
            total = sums.setdefault(name, [0.0, 0.0])
            total[0] += c.delta
            total[1] += c.vega
            known = meta.get(name, (expiry_ms, None))
            meta[name] = (expiry_ms, known[1] if known[1] is not None else forward)
        for name, (delta, vega) in sums.items():
            expiry_ms, forward = meta[name]
            basis = forward / risk.price - 1.0 if forward and risk.price > 0 else None
            rows.append(
                ExpiryRisk(
                    underlying=underlying,
                    expiry=name,
                    expiry_ms=expiry_ms,
                    delta=delta,
                    vega=vega,
                    forward=forward,
                    basis=basis,
                    vega_limit=limits.get(underlying),
                )
            )
    return tuple(sorted(rows, key=_order))


def _bucket(instrument: Instrument) -> tuple[str, int | None]:
    if instrument.expiry_ms is None or instrument.kind in (Kind.PERPETUAL, Kind.SPOT):
        return PERP, None
    day = dt.datetime.fromtimestamp(instrument.expiry_ms / 1000, tz=dt.UTC)
    return f"{day:%Y-%m-%d}", instrument.expiry_ms


def _forward(instrument: Instrument, quote: Quote | None) -> float | None:
    if quote is None:
        return None
    price = quote.underlying_price if instrument.kind is Kind.OPTION else quote.mark_price
    return price if math.isfinite(price) and price > 0 else None


def _order(row: ExpiryRisk) -> tuple[str, int, str]:
    rank = {PERP: 2**62, COLLATERAL: 2**63 - 1}.get(row.expiry, row.expiry_ms or 0)
    return row.underlying, rank, row.expiry
