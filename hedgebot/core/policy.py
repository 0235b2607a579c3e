"""Hedge policy: when to hedge an underlying, how much, and why. Pure and deterministic.

`decide(rule, inputs)` returns a `Decision` with a `ReasonCode` (what callers branch on) and a
human-readable reason (what operators read; nothing parses it). The band is a
`BandRule` (a Protocol), so bands that depend on gamma, price or time slot in beside the fixed
and percentage bands: `WhalleyWilmottBand` is one. The policy never sees orders or venues: the
caller passes the delta *including* hedges in flight, and whether one is in flight.

Guarantees (property-tested): it never trades while delta is inside the band; every trade
reduces the distance to the target and never overshoots past the opposite band edge; sizes are
whole lots within [min_order, max_order]; it respects the cooldown, the maximum hedge position
and never sends while an order is in flight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hedgebot.model.trading import ReasonCode

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyInputs:
    """What the policy knows about one underlying at one instant. Deltas in coin."""

    underlying: str
    now_ms: int
    net_delta: float
    """Net delta of the whole book including the signed remaining amount of hedges in flight."""
    gross_delta: float
    gamma: float
    price: float
    hedge_position: float
    """Current delta of the hedge instrument position, including hedges in flight."""
    lot: float
    """Delta, in coin, of one contract of the hedge instrument."""
    order_in_flight: bool
    last_hedge_ms: int | None


class BandRule(Protocol):
    """Half-width of the no-trade band around the target, in coin."""

    def half_width(self, inputs: PolicyInputs) -> float:
        """The band half-width for these inputs (positive)."""
        ...


@dataclass(frozen=True, slots=True)
class FixedBand:
    """Constant half-width in coin."""

    half_width_coin: float

    def half_width(self, inputs: PolicyInputs) -> float:
        """Always the configured width."""
        return self.half_width_coin


@dataclass(frozen=True, slots=True)
class PercentBand:
    """A share of the options' gross delta (`UnderlyingRisk.gross_delta`: collateral and the hedge
    excluded, so the band does not widen as the hedge grows), clamped to [minimum, maximum] coin."""

    percent: float
    minimum: float
    maximum: float

    def half_width(self, inputs: PolicyInputs) -> float:
        """percent % of gross delta, clamped."""
        return min(self.maximum, max(self.minimum, inputs.gross_delta * self.percent / 100.0))


DEFAULT_RELATIVE_RISK_AVERSION = 100.0
"""A of the Whalley–Wilmott band when a config names neither A nor γ (README "Bands": about
6 % of the options' delta on the default book, a few rebalances a day)."""
DEFAULT_COST_BPS = 6.0
"""κ of the Whalley–Wilmott band when a config names none: a 5 bp taker fee (the simulated and
Deribit perpetual taker rate) plus a 1 bp half spread, the backtest's default one-way cost."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WhalleyWilmottBand:
    """Whalley–Wilmott: H = (3/2 · κ · S · Γ² / γ)^(1/3) (r ≈ 0), clamped to [minimum, maximum].

    κ is the one-way proportional cost (bps / 10^4), Γ the book's gamma in coin/USD, S the
    price. H is in coin and grows as Γ^(2/3): the band is WIDER where gamma is larger
    (rebalancing a high-gamma book often costs more than the variance it removes).

    The risk aversion γ (per USD of P&L) is either given as such (`risk_aversion`, which must
    shrink as the book grows) or, normalised by the book's size, as the relative risk aversion
    A (`relative_risk_aversion`): γ = A / (G · S), G the options' gross delta in coin, i.e. A
    per USD of the options' delta notional. Then (H / G)³ = 3/2 · κ · (S·Γ / G)² / A, which does
    not change with the size of the book: a given A is the same band, in % of the options'
    delta, for one straddle or a thousand. Exactly one of the two is set.
    """

    cost: float
    minimum: float
    maximum: float
    relative_risk_aversion: float | None = None
    risk_aversion: float | None = None

    def __post_init__(self) -> None:
        if (self.relative_risk_aversion is None) == (self.risk_aversion is None):
            raise ValueError("give exactly one of relative_risk_aversion and risk_aversion")

    def widths(self, gross: ArrayLike, gamma: ArrayLike, price: ArrayLike) -> FloatArray:
        """H for each (options' gross delta, gamma, price), clamped; the one formula both the
        policy and the vectorised backtest use. Without options (G = 0) under the relative
        risk aversion, H is the minimum."""
        g = np.asarray(gross, dtype=np.float64)
        s = np.asarray(price, dtype=np.float64)
        numerator = 1.5 * self.cost * s * np.square(np.asarray(gamma, dtype=np.float64))
        if self.risk_aversion is not None:
            raw = np.cbrt(numerator / self.risk_aversion)
        else:
            assert self.relative_risk_aversion is not None
            raw = np.cbrt(numerator * g * s / self.relative_risk_aversion)
        result: FloatArray = np.minimum(self.maximum, np.maximum(self.minimum, raw))
        return result

    def half_width(self, inputs: PolicyInputs) -> float:
        """Wider where gamma is larger (H ∝ Γ^(2/3)), clamped."""
        return float(self.widths(inputs.gross_delta, inputs.gamma, inputs.price))


def moves_to_band_edge(gap: float, gamma: float, half_width: float) -> tuple[float, float] | None:
    """The price moves dS (USD, down first) at which the delta reaches the band's edges.

    Solves gap + Γ·dS = ±H with `gap` the net delta's distance from the target now: the
    delta a price move adds is Γ·dS to first order. None without gamma (delta does not move
    with the price) or when the delta is outside the band already (no move reaches an edge
    from inside). The down move is negative, the up move positive.
    """
    if gamma == 0.0 or abs(gap) > half_width:
        return None
    first = (half_width - gap) / gamma
    second = (-half_width - gap) / gamma
    return min(first, second), max(first, second)


class RebalanceTo(StrEnum):
    """Where a hedge brings delta back to."""

    EDGE = "edge"
    TARGET = "target"


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgeRule:
    """How one underlying is hedged. Amounts in coin."""

    target: float
    band: BandRule
    rebalance_to: RebalanceTo
    min_order: float
    max_order: float
    max_position: float
    cooldown_ms: int


class Action(StrEnum):
    """What the policy decided."""

    HOLD = "hold"
    HEDGE = "hedge"


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """The policy's answer for one underlying, with the reason an operator reads."""

    underlying: str
    action: Action
    order_delta: float
    """Signed coin delta to add through the hedge instrument (0 when holding)."""
    target: float
    band: float
    gap: float
    reason: str
    code: ReasonCode
    """Why, as a code: callers branch on this, never on `reason`."""


def decide(rule: HedgeRule, inputs: PolicyInputs) -> Decision:
    """Hold inside the band; outside it, trade towards the target in whole lots."""
    band = rule.band.half_width(inputs)
    gap = inputs.net_delta - rule.target

    def hold(code: ReasonCode, reason: str) -> Decision:
        return Decision(
            underlying=inputs.underlying,
            action=Action.HOLD,
            order_delta=0.0,
            target=rule.target,
            band=band,
            gap=gap,
            reason=reason,
            code=code,
        )

    if abs(gap) <= band:
        return hold(
            ReasonCode.INSIDE_BAND,
            f"inside band: delta {inputs.net_delta:+.4f} within {rule.target:+.4f}±{band:.4f}",
        )
    if inputs.order_in_flight:
        return hold(ReasonCode.IN_FLIGHT, "outside band, but a hedge order is in flight")
    if inputs.last_hedge_ms is not None and inputs.now_ms - inputs.last_hedge_ms < rule.cooldown_ms:
        wait = (rule.cooldown_ms - (inputs.now_ms - inputs.last_hedge_ms)) / 1000
        return hold(ReasonCode.COOLDOWN, f"outside band, cooling down for {wait:.1f}s more")
    size, why, refusal = _order_size(rule, inputs, gap, band)
    if refusal is not None:
        return hold(refusal, f"outside band, but {why}")
    order = -math.copysign(size, gap)
    return Decision(
        underlying=inputs.underlying,
        action=Action.HEDGE,
        order_delta=order,
        target=rule.target,
        band=band,
        gap=gap,
        reason=(
            f"delta {inputs.net_delta:+.4f} outside {rule.target:+.4f}±{band:.4f}: "
            f"{'buy' if order > 0 else 'sell'} {size:.4f} to the {rule.rebalance_to.value}"
            f"{' (' + why + ')' if why else ''}"
        ),
        code=ReasonCode.OUTSIDE_BAND,
    )


def _order_size(
    rule: HedgeRule, inputs: PolicyInputs, gap: float, band: float
) -> tuple[float, str, ReasonCode | None]:
    """Unsigned coin size of the hedge in whole lots, a note on what limited it, and the code of
    why there is no order (None when there is one)."""
    lot = inputs.lot
    wanted = abs(gap) - (band if rule.rebalance_to is RebalanceTo.EDGE else 0.0)
    ceiling = abs(gap) + band  # never overshoot past the opposite band edge
    note = ""
    if wanted > rule.max_order:
        wanted, note = rule.max_order, f"capped at max_order {rule.max_order}"
    direction = -math.copysign(1.0, gap)
    room = rule.max_position - direction * inputs.hedge_position
    if room <= 0:
        return 0.0, f"max hedge position {rule.max_position} reached", ReasonCode.MAX_POSITION
    if wanted > room:
        wanted, note = room, f"capped by max_position {rule.max_position}"
    wanted = max(wanted, rule.min_order)
    lots = math.ceil(wanted / lot - 1e-9)
    size = lots * lot
    while size > min(ceiling, rule.max_order, room) + 1e-12 and lots > 0:
        lots -= 1
        size = lots * lot
    if size < rule.min_order - 1e-12 or lots == 0:
        smallest = max(rule.min_order, lot)
        why = f"the smallest allowed order ({smallest:.4f}) would overshoot"
        return 0.0, why, ReasonCode.WOULD_OVERSHOOT
    return size, note, None
