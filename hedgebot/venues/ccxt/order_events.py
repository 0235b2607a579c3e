"""ccxt orders and trades -> `OrderUpdate` and `Fill`; hedgebot client ids on each venue.

Owns where a venue keeps hedgebot's client id: Deribit has none and carries it as the order
``label`` (``info['label']``, also on each of its trades); Binance, Bybit and OKX take ccxt's
``clientOrderId`` (``clientOrderId`` / ``orderLinkId`` / ``clOrdId``). Also the parameters a
create needs and the client-id rules each venue enforces, checked before anything is sent.

It must not import ccxt or perform I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from hedgebot.model.errors import BadVenueData, OrderRejected
from hedgebot.model.orders import Fill, OrderStatus, OrderUpdate, Side
from hedgebot.venues.ccxt.markets import VenueMarket

_CLIENT_ID_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "deribit": (re.compile(r"^.{1,64}$"), "at most 64 characters"),
    "binance": (re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$"), "1-36 of [.A-Za-z0-9:/_-]"),
    "bybit": (re.compile(r"^[A-Za-z0-9_-]{1,36}$"), "1-36 of [A-Za-z0-9_-]"),
    "okx": (re.compile(r"^[A-Za-z0-9]{1,32}$"), "1-32 letters and digits"),
}
_STATUSES = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
}


def check_client_id(client_id: str, *, exchange_id: str) -> None:
    """Raise OrderRejected if the venue would refuse or mangle this client id."""
    family = "binance" if exchange_id.startswith("binance") else exchange_id
    rule = _CLIENT_ID_RULES.get(family)
    if rule is not None and not rule[0].match(client_id):
        raise OrderRejected(f"client id {client_id!r} is not valid on {exchange_id}: {rule[1]}")


def create_params(
    client_id: str, *, exchange_id: str, reduce_only: bool, margin_mode: str | None = None
) -> dict[str, Any]:
    """ccxt ``create_order`` params carrying the client id (and reduce-only) on this venue.

    On OKX the trade mode (``tdMode``) is `margin_mode`, the margin mode of the account's
    position in that swap (cross when there is none): an order in the other mode would open a
    second position beside it instead of trading the one hedgebot counts."""
    params: dict[str, Any] = (
        {"label": client_id} if exchange_id == "deribit" else {"clientOrderId": client_id}
    )
    if reduce_only:
        params["reduceOnly"] = True
    if exchange_id == "okx":
        params["tdMode"] = margin_mode or "cross"
    return params


def client_id_of(item: Mapping[str, Any], *, exchange_id: str) -> str:
    """hedgebot's client id of a ccxt order or trade ('' when the venue reports none)."""
    info = _mapping(item.get("info"))
    if exchange_id == "deribit":
        return str(info.get("label") or "")
    value = item.get("clientOrderId")
    if not value:
        value = info.get("clientOrderId") or info.get("orderLinkId") or info.get("clOrdId")
    return str(value or "")


def order_update_from_ccxt(
    order: Mapping[str, Any], market: VenueMarket, *, client_id: str, now_ms: int
) -> OrderUpdate:
    """The OrderUpdate of one ccxt order; raises BadVenueData for unknown states or amounts."""
    raw_status = str(order.get("status") or "")
    status = _STATUSES.get(raw_status)
    if status is None and _is_bare_acknowledgement(order):
        # Bybit v5 and OKX answer a create with the ids only (ccxt status None; ccxt fills in
        # OKX's side and type from the request): the order was accepted and nothing is known
        # of it yet; the streams and lookups tell the rest.
        status = OrderStatus.OPEN
    if status is None:
        raise BadVenueData(f"{market.instrument.symbol}: unknown order status {raw_status!r}")
    filled = market.from_venue_amount(_number(order.get("filled"), default=0.0))
    if not math.isfinite(filled) or filled < 0:
        raise BadVenueData(f"{market.instrument.symbol}: filled amount {filled}")
    if status is OrderStatus.OPEN and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    order_id = order.get("id")
    if not order_id:
        raise BadVenueData(f"{market.instrument.symbol}: order without an id")
    info = _mapping(order.get("info"))
    reason = str(info.get("cancel_reason") or info.get("cancelType") or "")
    raw_time = order.get("lastUpdateTimestamp") or order.get("timestamp")
    timestamp = _number(raw_time, default=float(now_ms))
    return OrderUpdate(
        client_id=client_id,
        venue_order_id=str(order_id),
        key=market.instrument.key,
        status=status,
        filled_amount=filled,
        timestamp_ms=int(timestamp),
        reason=reason if reason not in ("none", "None") else "",
    )


def _is_bare_acknowledgement(order: Mapping[str, Any]) -> bool:
    """A create answer carrying only ids: no status, no amounts, no price."""
    return (
        not order.get("status")
        and bool(order.get("id"))
        and all(order.get(k) is None for k in ("filled", "amount", "price"))
    )


def fill_from_ccxt_trade(
    trade: Mapping[str, Any], market: VenueMarket, *, account: str, client_id: str
) -> Fill:
    """The Fill of one ccxt trade of ours; raises BadVenueData for unusable fields."""
    trade_id = trade.get("id")
    side = trade.get("side")
    if not trade_id or side not in ("buy", "sell"):
        raise BadVenueData(f"{market.instrument.symbol}: trade without id or side: {trade!r}")
    amount = market.from_venue_amount(_number(trade.get("amount")))
    price = _number(trade.get("price"))
    if not math.isfinite(amount) or amount <= 0 or price <= 0:
        raise BadVenueData(
            f"{market.instrument.symbol}: trade {trade_id} amount/price not positive"
        )
    fee = _mapping(trade.get("fee"))
    return Fill(
        trade_id=str(trade_id),
        client_id=client_id,
        account=account,
        key=market.instrument.key,
        side=Side(side),
        amount=amount,
        price=price,
        fee=_number(fee.get("cost"), default=0.0),
        fee_currency=str(fee.get("currency") or ""),
        timestamp_ms=int(_number(trade.get("timestamp"))),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _number(value: Any, *, default: float | None = None) -> float:
    if (value is None or value == "") and default is not None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadVenueData(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise BadVenueData(f"not a finite number: {value!r}")
    return number
