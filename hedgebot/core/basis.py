"""The basis between venues when options on one venue are hedged with a contract on another.

Owns `basis_bps` and `cross_venue_basis`. hedgebot nets delta in coin, which a linear or inverse
perpetual on another venue offsets one for one whatever its price; but the hedge is marked at its
own venue's price and the options at their venue's index, so the two legs' USD values drift apart
by the basis between the venues. It is reported (``basis_bps`` in the turn view and /status), not
traded on: the basis of a perpetual is kept small by its funding, and a persistent one is a
reason for an operator to look, not for the hedger to act.

It is pure: no I/O, no logging.
"""

from __future__ import annotations

import math


def basis_bps(hedge_price: float, reference_price: float) -> float | None:
    """The hedge's premium over the reference in basis points (None if either is unusable)."""
    if not (math.isfinite(hedge_price) and math.isfinite(reference_price)):
        return None
    if hedge_price <= 0 or reference_price <= 0:
        return None
    return (hedge_price / reference_price - 1.0) * 10_000.0


def cross_venue_basis(
    *,
    hedge_venue: str,
    hedge_price: float,
    reference_venue: str | None,
    reference_price: float | None,
) -> float | None:
    """`basis_bps` when the reference index comes from another venue than the hedge; None
    when both are on one venue (there is no basis between venues to report)."""
    if reference_venue is None or reference_price is None or reference_venue == hedge_venue:
        return None
    return basis_bps(hedge_price, reference_price)
