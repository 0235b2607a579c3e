"""Our deltas against the venue's own: a stale IV, a unit or a convention error shows as divergence.

Owns `GreeksTolerance`, `Divergence` and `compare_deltas`. Where the venue reports a position's
delta (Deribit `get_positions` `delta`: premium-adjusted for options, `size_currency` for futures;
kept as `Position.venue_delta`), hedgebot's contribution of that position (`hedgebot.core.risk`)
is compared with it, per position and summed per account and underlying (the book). A difference
beyond `warn` (absolute coin + relative share of the larger) is a WARN (alert: stale IV, unit or
convention error); beyond `hold` it is a HOLD (trading on that underlying should hold). Pure; it
decides nothing itself and formats no text beyond the row's description.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from hedgebot.core.risk import AccountBook, RiskReport


class DivergenceLevel(StrEnum):
    """How far our delta is from the venue's."""

    WARN = "warn"
    HOLD = "hold"


@dataclass(frozen=True, slots=True, kw_only=True)
class GreeksTolerance:
    """Allowed |ours − venue's| = absolute + relative × max(|ours|, |venue's|), per level."""

    warn_relative: float = 0.05
    hold_relative: float = 0.25
    absolute: float = 0.01
    """Coin: rounding of the venue's printed figure and of small positions."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.warn_relative <= self.hold_relative or self.absolute < 0:
            raise ValueError("greeks tolerance needs 0 <= warn_relative <= hold_relative")


@dataclass(frozen=True, slots=True, kw_only=True)
class Divergence:
    """One position, or one account's book of an underlying (`source` = 'book'), out of line."""

    account: str
    underlying: str
    source: str
    ours: float
    venue: float
    level: DivergenceLevel

    def describe(self) -> str:
        """E.g. 'main BTC deribit:BTC-PERPETUAL: delta 0.5000 coin, venue says 0.0067 (hold)'."""
        return (
            f"{self.account} {self.underlying} {self.source}: delta {self.ours:,.4f} coin, "
            f"venue says {self.venue:,.4f} ({self.level.value})"
        )


def _level(ours: float, venue: float, tolerance: GreeksTolerance) -> DivergenceLevel | None:
    gap = abs(ours - venue)
    scale = max(abs(ours), abs(venue))
    if gap > tolerance.absolute + tolerance.hold_relative * scale:
        return DivergenceLevel.HOLD
    if gap > tolerance.absolute + tolerance.warn_relative * scale:
        return DivergenceLevel.WARN
    return None


def compare_deltas(
    *,
    books: Sequence[AccountBook],
    report: RiskReport,
    tolerance: GreeksTolerance = GreeksTolerance(),
) -> tuple[Divergence, ...]:
    """Every position and account book whose delta diverges from the venue's beyond tolerance."""
    venue = {
        (b.account, str(p.key)): p.venue_delta
        for b in books
        for p in b.positions
        if p.venue_delta is not None and p.amount != 0
    }
    found: list[Divergence] = []
    for underlying, risk in report.underlyings.items():
        totals: dict[str, list[float]] = {}
        for c in risk.contributions:
            theirs = venue.get((c.account, c.source))
            if theirs is None:
                continue
            total = totals.setdefault(c.account, [0.0, 0.0])
            total[0] += c.delta
            total[1] += theirs
            level = _level(c.delta, theirs, tolerance)
            if level is not None:
                found.append(
                    Divergence(
                        account=c.account,
                        underlying=underlying,
                        source=c.source,
                        ours=c.delta,
                        venue=theirs,
                        level=level,
                    )
                )
        for account, (ours, theirs) in totals.items():
            level = _level(ours, theirs, tolerance)
            if level is not None:
                found.append(
                    Divergence(
                        account=account,
                        underlying=underlying,
                        source="book",
                        ours=ours,
                        venue=theirs,
                        level=level,
                    )
                )
    return tuple(found)
