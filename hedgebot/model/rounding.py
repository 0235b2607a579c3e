"""Lot and price rounding: the one rule every amount and price goes through.

Owns `whole_steps` (how many whole steps of a lot or tick a value holds, rounded down or up),
`to_step` (the value on that grid) and `is_multiple`. The arithmetic is exact decimal on the
shortest repr of each float, so 0.3 / 0.1 is 3 steps, not 2.9999999999999996. A quotient within
one billionth of a step of a whole number counts as that whole number: an amount computed as
5.0 - 4.7 (0.2999999999999998) is 3 lots of 0.1, not 2. The snap is absolute, not relative to
the count: a relative one moved 58,551,509.97 USD up to 58,551,510 on a 10 USD lot.

Used by `Instrument.round_amount` / `round_price`, the order rules of every venue
(`hedgebot.core.order_rules`), the ccxt order entry's limit price and the simulated exchange's
order checks. Pure: no I/O.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

_SNAP = Decimal("1e-9")
"""A quotient this close to a whole number of steps is that number (float noise, not intent)."""


def _decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def whole_steps(value: float, step: float, *, up: bool = False) -> Decimal:
    """The whole number of `step`s in `value`: rounded down (towards minus infinity), or up."""
    quotient = _decimal(value) / _decimal(step)
    nearest = quotient.to_integral_value(rounding=ROUND_HALF_EVEN)
    if abs(quotient - nearest) <= _SNAP:
        return nearest
    return quotient.to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)


def to_step(value: float, step: float, *, up: bool = False) -> float:
    """`value` on the grid of `step`: rounded down, or up."""
    return float(whole_steps(value, step, up=up) * _decimal(step))


def is_multiple(value: float, step: float) -> bool:
    """True when `value` is a whole number of `step`s (to the same tolerance)."""
    return whole_steps(value, step) == whole_steps(value, step, up=True)
