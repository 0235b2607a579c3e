"""Deribit's checks of an order request before it reaches the matching engine.

Owns `OrderSpec` (a parsed ``private/buy``/``sell``/``edit`` request) and the validation Deribit
answers with its own codes: amount a multiple of the instrument's lot, price on the tick and
inside the instrument's price band, post-only against the book, labels of at most 64
characters. It also translates the simulated venue's rejection reasons into Deribit codes.

It must not place orders.
"""

from __future__ import annotations

from dataclasses import dataclass

from hedgebot.model.instruments import Instrument
from hedgebot.model.orders import Side
from hedgebot_localvenues.deribit.backend import Depth
from hedgebot_localvenues.deribit.rpc import (
    NOT_ENOUGH_FUNDS,
    OTHER_REJECT,
    POST_ONLY_REJECT,
    PRICE_WRONG_TICK,
    QTY_TOO_LOW,
    Params,
    RpcError,
    invalid_param,
)

TIME_IN_FORCE = ("good_til_cancelled", "good_til_day", "fill_or_kill", "immediate_or_cancel")
ORDER_TYPES = ("limit", "market")
MAX_LABEL = 64
_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSpec:
    """A validated order request in Deribit's terms."""

    instrument: Instrument
    side: Side
    amount: float
    order_type: str
    price: float
    """Limit price handed to the broker; for market orders the edge of the price band."""
    label: str
    time_in_force: str
    post_only: bool
    reject_post_only: bool
    reduce_only: bool

    @property
    def takes_immediately_or_never(self) -> bool:
        """True when what does not fill on arrival is cancelled (IOC, FOK, market)."""
        return self.order_type == "market" or self.time_in_force in (
            "immediate_or_cancel",
            "fill_or_kill",
        )


def lot_of(instrument: Instrument) -> float:
    """The step amounts must be a multiple of (Deribit's min_trade_amount)."""
    return instrument.min_amount or instrument.contract_size


def check_amount(instrument: Instrument, amount: float) -> float:
    """A positive whole number of lots, or Deribit's error."""
    lot = lot_of(instrument)
    if amount <= 0:
        raise invalid_param("amount", "must be positive")
    if amount < lot * (1 - 1e-6):
        raise RpcError(QTY_TOO_LOW, data={"param": "amount", "reason": f"minimum is {lot:g}"})
    ratio = amount / lot
    if abs(ratio - round(ratio)) > _TOLERANCE * max(1.0, ratio):
        raise invalid_param("amount", f"must be a multiple of {lot:g}")
    return round(round(ratio) * lot, 10)


def check_price(instrument: Instrument, price: float) -> float:
    """A positive price on the tick, or Deribit's error."""
    if price <= 0:
        raise invalid_param("price", "must be positive")
    tick = instrument.tick_size
    if tick > 0:
        ratio = price / tick
        if abs(ratio - round(ratio)) > _TOLERANCE * max(1.0, ratio):
            raise RpcError(PRICE_WRONG_TICK, data={"param": "price", "reason": f"tick {tick:g}"})
        price = round(round(ratio) * tick, 12)
    return price


def clamp_to_band(side: Side, price: float, band: tuple[float, float]) -> float:
    """Deribit clamps buys above max_price down to it and sells below min_price up to it."""
    low, high = band
    if side is Side.BUY:
        return min(price, high)
    return max(price, low)


def post_only_price(spec: OrderSpec, depth: Depth) -> float:
    """The price of a post-only order: rejected, or moved just inside the spread, if it would
    take liquidity."""
    if not spec.post_only or spec.order_type != "limit":
        return spec.price
    tick = spec.instrument.tick_size or 0.0
    if spec.side is Side.BUY:
        best_ask = depth.best_ask()[0]
        crosses = best_ask > 0 and spec.price >= best_ask - _TOLERANCE
        moved = best_ask - tick
    else:
        best_bid = depth.best_bid()[0]
        crosses = best_bid > 0 and spec.price <= best_bid + _TOLERANCE
        moved = best_bid + tick
    if not crosses:
        return spec.price
    if spec.reject_post_only or moved <= 0:
        raise RpcError(POST_ONLY_REJECT)
    return round(moved, 12)


def fill_or_kill_fillable(spec: OrderSpec, depth: Depth) -> bool:
    """Whether the book holds enough at or better than the limit to fill the whole order."""
    levels = depth.asks if spec.side is Side.BUY else depth.bids
    available = 0.0
    for price, amount in levels:
        beyond = price > spec.price if spec.side is Side.BUY else price < spec.price
        if beyond:
            break
        available += amount
    return available >= spec.amount * (1 - 1e-9)


def parse_order(
    params: Params, instrument: Instrument, side: Side, band: tuple[float, float]
) -> OrderSpec:
    """Parse and validate the parameters of ``private/buy`` / ``private/sell``."""
    order_type = params.text("type", "limit")
    if order_type not in ORDER_TYPES:
        raise invalid_param("type", f"unsupported order type {order_type}")
    amount = params.optional_number("amount")
    if amount is None:
        contracts = params.number("contracts")
        amount = contracts * instrument.contract_size
    time_in_force = params.text("time_in_force", "good_til_cancelled")
    if time_in_force not in TIME_IN_FORCE:
        raise invalid_param("time_in_force", "unknown time in force")
    label = params.text("label", "")
    if len(label) > MAX_LABEL:
        raise invalid_param("label", f"at most {MAX_LABEL} characters")
    if order_type == "limit":
        price = clamp_to_band(side, check_price(instrument, params.number("price")), band)
    else:
        price = band[1] if side is Side.BUY else band[0]
    return OrderSpec(
        instrument=instrument,
        side=side,
        amount=check_amount(instrument, amount),
        order_type=order_type,
        price=price,
        label=label,
        time_in_force=time_in_force,
        post_only=params.flag("post_only"),
        reject_post_only=params.flag("reject_post_only"),
        reduce_only=params.flag("reduce_only"),
    )


def rejection_error(reason: str) -> RpcError:
    """Deribit's error for a rejection reason of the simulated venue."""
    text = reason.lower()
    if "margin" in text or "insufficient" in text or "funds" in text:
        return RpcError(NOT_ENOUGH_FUNDS, data={"reason": reason})
    if "below min_amount" in text:
        return RpcError(QTY_TOO_LOW, data={"reason": reason})
    if "tick" in text:
        return RpcError(PRICE_WRONG_TICK, data={"reason": reason})
    if "multiple" in text:
        return invalid_param("amount", reason)
    return RpcError(OTHER_REJECT, f"other_reject {reason}".strip(), data={"reason": reason})
