"""A venue's order rules, checked before anything is sent: written once for every venue.

Owns `OrderRules` (what a venue's market says about order sizes: the amount step and minimum in
the venue's own amount unit, the minimum order value in the quote currency, the conversion to the
instrument's unit) and `venue_amount`, which turns a wanted amount and limit price into the amount
the venue will accept, or a `RuleBreach` naming the rule with the numbers a user needs to fix the
configuration. The rules come from ccxt's market (``precision.amount``, ``limits.amount.min``,
``limits.cost.min``, ``contractSize``); the venue facts behind them are in docs/venues.md.

The amount is truncated to the step, never rounded up, so an order never exceeds the size the
core asked for. It is pure: no I/O, no logging.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from hedgebot.model import rounding


class Rule(Enum):
    """Which order rule an amount breaks."""

    NOT_POSITIVE = "not_positive"
    BELOW_MIN_AMOUNT = "below_min_amount"
    BELOW_MIN_NOTIONAL = "below_min_notional"


@dataclass(frozen=True, slots=True)
class OrderRules:
    """One market's order-size rules."""

    symbol: str
    step: float
    """Smallest increment of a venue amount (contracts; Deribit: its own amount)."""
    min_amount: float
    """Smallest venue amount."""
    amount_scale: float
    """Instrument amount units per venue amount unit (contractSize; 1 on Deribit)."""
    min_notional: float | None = None
    """Smallest order value in the quote currency (Binance MIN_NOTIONAL, Bybit
    minNotionalValue), for linear contracts only: None where the venue has none."""

    def __post_init__(self) -> None:
        for name in ("step", "min_amount", "amount_scale"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"{self.symbol}: {name} must be positive, not {value}")


@dataclass(frozen=True, slots=True)
class RuleBreach:
    """An order the venue would refuse, and why (one line for logs and rejections)."""

    rule: Rule
    reason: str


def venue_amount(rules: OrderRules, amount: float, price: float | None) -> float | RuleBreach:
    """The venue amount for `amount` (instrument units) at limit `price`, truncated to the
    step; or the rule it breaks. Without a price the minimum value is not checked."""
    if not math.isfinite(amount) or amount <= 0:
        return RuleBreach(Rule.NOT_POSITIVE, f"{rules.symbol}: order amount must be positive")
    wanted = float(Decimal(repr(amount)) / Decimal(repr(rules.amount_scale)))
    result = rounding.to_step(wanted, rules.step)
    if result <= 0 or result < rules.min_amount:
        smallest = max(rules.min_amount, rules.step) * rules.amount_scale
        return RuleBreach(
            Rule.BELOW_MIN_AMOUNT,
            f"{rules.symbol}: {amount} is below the venue minimum of {smallest}",
        )
    if rules.min_notional is not None and price is not None and math.isfinite(price):
        notional = result * rules.amount_scale * price
        if notional < rules.min_notional:
            needed = rules.min_notional / price
            return RuleBreach(
                Rule.BELOW_MIN_NOTIONAL,
                f"{rules.symbol}: order value {notional:.2f} is below the venue minimum of "
                f"{rules.min_notional:g} (at {price:g} that is {needed:.6g} per order)",
            )
    return result
