"""Static checks of an order against its instrument and the account's position, before margin.

Owns the reasons a venue refuses an order outright: size below `min_amount` or not whole
contracts, a price off the tick, a reduce-only order that would not reduce, a spot sale beyond
the coin held. Pure; it must not look at prices or margin (the ledger does that next).
"""

from __future__ import annotations

from collections.abc import Sequence

from hedgebot.model import rounding
from hedgebot.model.instruments import Instrument, Kind
from hedgebot.model.orders import OrderRequest, Side
from hedgebot.venues.sim.accounting import Holding

_RELATIVE_TOLERANCE = 1e-6


def order_problem(
    instrument: Instrument,
    order: OrderRequest,
    *,
    holding: Holding,
    open_orders: Sequence[tuple[OrderRequest, float]],
) -> str:
    """Why the venue refuses `order` ("" if it does not); `open_orders` pairs each open order of
    the same account and instrument with its unfilled amount."""
    return (
        _size_problem(instrument, order)
        or _price_problem(instrument, order)
        or _reduce_only_problem(order, holding, open_orders)
        or _spot_problem(instrument, order, holding, open_orders)
    )


def _size_problem(instrument: Instrument, order: OrderRequest) -> str:
    if order.amount < instrument.min_amount * (1 - _RELATIVE_TOLERANCE):
        return f"amount {order.amount:g} below min_amount {instrument.min_amount:g}"
    if not rounding.is_multiple(order.amount, instrument.contract_size):
        return (
            f"amount {order.amount:g} not a multiple of contract_size {instrument.contract_size:g}"
        )
    return ""


def _price_problem(instrument: Instrument, order: OrderRequest) -> str:
    if instrument.tick_size > 0 and not rounding.is_multiple(
        order.limit_price, instrument.tick_size
    ):
        return f"price {order.limit_price:g} not a multiple of tick_size {instrument.tick_size:g}"
    return ""


def _reduce_only_problem(
    order: OrderRequest, holding: Holding, open_orders: Sequence[tuple[OrderRequest, float]]
) -> str:
    if not order.reduce_only:
        return ""
    position = holding.amount
    if position == 0 or (position > 0) == (order.side is Side.BUY):
        return "reduce_only order would open or increase a position"
    reserved = sum(
        amount for other, amount in open_orders if other.reduce_only and other.side is order.side
    )
    if order.amount + reserved > abs(position) * (1 + _RELATIVE_TOLERANCE):
        return f"reduce_only amount {order.amount:g} exceeds the position {abs(position):g}"
    return ""


def _spot_problem(
    instrument: Instrument,
    order: OrderRequest,
    holding: Holding,
    open_orders: Sequence[tuple[OrderRequest, float]],
) -> str:
    if instrument.kind is not Kind.SPOT or order.side is Side.BUY:
        return ""
    selling = sum(amount for other, amount in open_orders if other.side is Side.SELL)
    if order.amount + selling > holding.amount * (1 + _RELATIVE_TOLERANCE):
        return f"insufficient balance: selling {order.amount:g} with {holding.amount:g} held"
    return ""
