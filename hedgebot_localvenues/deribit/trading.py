"""Handlers of Deribit's order entry: buy, sell, edit, cancel, cancel-all and close-position.

Owns turning a Deribit order request into broker legs: validate it (`order_checks`), register
it (so fills are caught from the first instant), submit the leg, wait until the matching engine
has activated it so the answer carries the taker fills like Deribit's does, cancel what an
IOC/FOK/market order left, and answer ``{"order": ..., "trades": [...]}``. ``private/edit``
keeps the order id: it cancels the live leg and submits the remaining amount as a new leg.

It must not answer for another account's orders (10004 order_not_found).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hedgebot.model.errors import OrderRejected, VenueError
from hedgebot.model.orders import OrderRequest, OrderStatus, Side
from hedgebot_localvenues.deribit.calls import Call, Handler
from hedgebot_localvenues.deribit.order_checks import (
    OrderSpec,
    check_amount,
    check_price,
    clamp_to_band,
    fill_or_kill_fillable,
    parse_order,
    post_only_price,
    rejection_error,
)
from hedgebot_localvenues.deribit.registry import OrderRecord, TradeRecord
from hedgebot_localvenues.deribit.rpc import (
    ALREADY_FILLED,
    NOT_OPEN_ORDER,
    ORDER_NOT_FOUND,
    Params,
    RpcError,
    invalid_param,
)
from hedgebot_localvenues.deribit.state import VenueState
from hedgebot_localvenues.deribit.wire_account import order_json, trade_json
from hedgebot_localvenues.deribit.wire_market import kind_of, settlement_currency_of

INTERNAL_ERROR = 11094


async def buy(state: VenueState, call: Call) -> Any:
    """``private/buy``."""
    return await _place(state, call, Side.BUY)


async def sell(state: VenueState, call: Call) -> Any:
    """``private/sell``."""
    return await _place(state, call, Side.SELL)


async def _place(state: VenueState, call: Call, side: Side) -> Any:
    account = call.require_account()
    instrument = state.instrument(call.params.text("instrument_name"))
    band = state.market.price_band(instrument, state.market.quote(instrument))
    spec = parse_order(call.params, instrument, side, band)
    depth = state.market.depth(instrument)
    spec = replace(spec, price=post_only_price(spec, depth))
    record = _new_record(state, account, spec)
    figures = state.account_figures(await state.broker(account).snapshot())
    state.residual_at_create[record.order_id] = {
        f.currency: f.equity + f.delta_total for f in figures
    }
    if spec.time_in_force == "fill_or_kill" and not fill_or_kill_fillable(spec, depth):
        state.on_record(replace(record, state="cancelled", cancel_reason="fill_or_kill"))
        return order_response(state, record.order_id, [])
    state.registry.register(record)
    try:
        await submit_leg(state, record, record.live_leg, spec.amount)
    except RpcError:
        state.registry.discard(record.order_id)
        raise
    await state.until_active(record.live_leg)
    if spec.takes_immediately_or_never:
        await cancel_live_leg(state, record.order_id, reason="immediate_or_cancel")
    trades = await sync_fills(state, account)
    return order_response(
        state, record.order_id, [t for t in trades if t.order_id == record.order_id]
    )


def _new_record(state: VenueState, account: str, spec: OrderSpec) -> OrderRecord:
    now = state.now_ms()
    order_id = state.registry.new_order_id()
    return OrderRecord(
        order_id=order_id,
        account=account,
        instrument=spec.instrument,
        label=spec.label,
        side=spec.side,
        order_type=spec.order_type,
        price=spec.price,
        amount=spec.amount,
        time_in_force=spec.time_in_force,
        post_only=spec.post_only,
        reject_post_only=spec.reject_post_only,
        reduce_only=spec.reduce_only,
        created_ms=now,
        updated_ms=now,
        submitted_ms=now,
        legs=(state.registry.leg_client_id(order_id, 1),),
        leg_filled=(0.0,),
    )


async def submit_leg(state: VenueState, record: OrderRecord, leg: str, amount: float) -> None:
    """Submit one broker leg of an order; Deribit's error if the venue refuses it."""
    request = OrderRequest(
        client_id=leg,
        account=record.account,
        key=record.instrument.key,
        side=record.side,
        amount=amount,
        limit_price=record.price,
        reduce_only=record.reduce_only,
    )
    try:
        update = await state.broker(record.account).submit(request)
    except OrderRejected as error:
        raise rejection_error(str(error)) from None
    except VenueError as error:
        raise RpcError(
            INTERNAL_ERROR, "internal_server_error", data={"reason": str(error)}
        ) from None
    if update.status is OrderStatus.REJECTED:
        raise rejection_error(update.reason)
    state.expect_activation(leg)
    state.on_update(update)


async def cancel_live_leg(state: VenueState, order_id: str, *, reason: str) -> OrderRecord:
    """Cancel what is left of an order; the order as it ends up."""
    record = _existing(state, order_id)
    broker = state.broker(record.account)
    await broker.cancel(record.live_leg, record.instrument.key)
    update = await broker.lookup(record.live_leg, record.instrument.key)
    if update is not None:
        state.on_update(update)
    record = _existing(state, order_id)
    if record.is_open:
        record = state.on_record(
            replace(record, state="cancelled", cancel_reason=reason, updated_ms=state.now_ms())
        )
    elif record.state == "cancelled" and not record.cancel_reason:
        record = state.on_record(replace(record, cancel_reason=reason))
    return record


async def sync_fills(state: VenueState, account: str) -> list[TradeRecord]:
    """Pull the account's fills from the broker into the registry; every known trade."""
    orders = state.registry.orders_of(account)
    if orders:
        since = min(o.created_ms for o in orders)
        for fill in await state.broker(account).fills_since(since):
            state.on_fill(fill)
    return state.registry.trades_of(account)


async def refresh(state: VenueState, record: OrderRecord) -> OrderRecord:
    """The order with its live leg re-read from the broker."""
    if record.is_open:
        update = await state.broker(record.account).lookup(record.live_leg, record.instrument.key)
        if update is not None:
            state.on_update(update)
    return _existing(state, record.order_id)


def order_response(state: VenueState, order_id: str, trades: list[TradeRecord]) -> Any:
    """``{"order": ..., "trades": [...]}`` as buy, sell and edit answer."""
    record = _existing(state, order_id)
    return {
        "order": encode_order(state, record),
        "trades": [trade_json(t, record) for t in trades],
    }


def encode_order(state: VenueState, record: OrderRecord) -> dict[str, Any]:
    """An order's JSON with its average price and commission."""
    return order_json(
        record,
        average_price=state.registry.average_price(record),
        commission=state.registry.commission(record),
    )


def owned_order(state: VenueState, call: Call, order_id: str) -> OrderRecord:
    """An order of the caller's account; 10004 order_not_found otherwise."""
    account = call.require_account()
    record = state.registry.get(order_id)
    if record is None or record.account != account:
        raise RpcError(ORDER_NOT_FOUND)
    return record


def _existing(state: VenueState, order_id: str) -> OrderRecord:
    record = state.registry.get(order_id)
    if record is None:
        raise RpcError(ORDER_NOT_FOUND)
    return record


async def edit(state: VenueState, call: Call) -> Any:
    """``private/edit``: new amount (total, including what is filled) and/or price."""
    record = owned_order(state, call, call.params.text("order_id"))
    return await _edit(state, call, record)


async def edit_by_label(state: VenueState, call: Call) -> Any:
    """``private/edit_by_label``: edit the one open order carrying a label."""
    account = call.require_account()
    label = call.params.text("label")
    open_orders = [o for o in state.registry.by_label(account, label) if o.is_open]
    if len(open_orders) != 1:
        raise RpcError(ORDER_NOT_FOUND, data={"reason": f"{len(open_orders)} open orders"})
    return await _edit(state, call, open_orders[0])


async def _edit(state: VenueState, call: Call, record: OrderRecord) -> Any:
    record = await refresh(state, record)
    if not record.is_open:
        raise RpcError(ALREADY_FILLED if record.state == "filled" else NOT_OPEN_ORDER)
    instrument = record.instrument
    amount = check_amount(instrument, call.params.number("amount", record.amount))
    price = record.price
    if call.params.optional_number("price") is not None:
        band = state.market.price_band(instrument, state.market.quote(instrument))
        price = clamp_to_band(
            record.side, check_price(instrument, call.params.number("price")), band
        )
    next_leg = state.registry.leg_client_id(record.order_id, len(record.legs) + 1)
    old_leg = record.live_leg
    record = state.registry.store(
        replace(
            record,
            legs=(*record.legs, next_leg),
            leg_filled=(*record.leg_filled, 0.0),
            price=price,
            amount=amount,
            replaced=True,
            post_only=call.params.flag("post_only", record.post_only),
            reduce_only=call.params.flag("reduce_only", record.reduce_only),
        )
    )
    broker = state.broker(record.account)
    await broker.cancel(old_leg, instrument.key)
    update = await broker.lookup(old_leg, instrument.key)
    if update is not None:
        state.on_update(update)
    record = _existing(state, record.order_id)
    remaining = round(record.amount - record.filled_amount, 10)
    if remaining <= 0:
        state.on_record(replace(record, state="filled", amount=record.filled_amount))
    else:
        now = state.now_ms()
        record = state.registry.store(replace(record, submitted_ms=now, updated_ms=now))
        try:
            await submit_leg(state, record, next_leg, remaining)
        except RpcError:
            state.on_record(replace(record, state="cancelled", cancel_reason="edit_rejected"))
            raise
        await state.until_active(next_leg)
    trades = await sync_fills(state, record.account)
    return order_response(
        state, record.order_id, [t for t in trades if t.order_id == record.order_id]
    )


async def cancel(state: VenueState, call: Call) -> Any:
    """``private/cancel``: the cancelled order; 11044 not_open_order if it already ended."""
    record = await refresh(state, owned_order(state, call, call.params.text("order_id")))
    if not record.is_open:
        raise RpcError(NOT_OPEN_ORDER)
    return encode_order(state, await cancel_live_leg(state, record.order_id, reason="user_request"))


async def _cancel_matching(state: VenueState, records: list[OrderRecord]) -> int:
    count = 0
    for stale in records:
        record = await refresh(state, stale)
        if record.is_open:
            await cancel_live_leg(state, record.order_id, reason="user_request")
            count += 1
    return count


def _open_of(state: VenueState, call: Call) -> list[OrderRecord]:
    return [o for o in state.registry.orders_of(call.require_account()) if o.is_open]


async def cancel_all(state: VenueState, call: Call) -> Any:
    """``private/cancel_all``: how many orders were cancelled."""
    return await _cancel_matching(state, _open_of(state, call))


async def cancel_all_by_currency(state: VenueState, call: Call) -> Any:
    """``private/cancel_all_by_currency`` (``kind`` optional)."""
    currency = call.params.text("currency")
    kind = call.params.text("kind", "any")
    return await _cancel_matching(
        state,
        [
            o
            for o in _open_of(state, call)
            if settlement_currency_of(o.instrument) == currency
            and kind in ("any", kind_of(o.instrument))
        ],
    )


async def cancel_all_by_instrument(state: VenueState, call: Call) -> Any:
    """``private/cancel_all_by_instrument``."""
    symbol = state.instrument(call.params.text("instrument_name")).symbol
    return await _cancel_matching(
        state, [o for o in _open_of(state, call) if o.instrument.symbol == symbol]
    )


async def cancel_by_label(state: VenueState, call: Call) -> Any:
    """``private/cancel_by_label``."""
    label = call.params.text("label")
    return await _cancel_matching(state, [o for o in _open_of(state, call) if o.label == label])


async def close_position(state: VenueState, call: Call) -> Any:
    """``private/close_position``: a reduce-only order for the whole position."""
    account = call.require_account()
    instrument = state.instrument(call.params.text("instrument_name"))
    snapshot = await state.broker(account).snapshot()
    size = sum(p.amount for p in snapshot.positions if p.key.symbol == instrument.symbol)
    if size == 0:
        raise invalid_param("instrument_name", "no position to close")
    params = dict(call.params.raw)
    params.update({"amount": abs(size), "reduce_only": True})
    if params.get("type", "limit") not in ("limit", "market"):
        raise invalid_param("type", "limit or market")
    closing = replace(call, params=Params(params))
    return await _place(state, closing, Side.SELL if size > 0 else Side.BUY)


TRADING_HANDLERS: dict[str, Handler] = {
    "private/buy": buy,
    "private/sell": sell,
    "private/edit": edit,
    "private/edit_by_label": edit_by_label,
    "private/cancel": cancel,
    "private/cancel_all": cancel_all,
    "private/cancel_all_by_currency": cancel_all_by_currency,
    "private/cancel_all_by_instrument": cancel_all_by_instrument,
    "private/cancel_by_label": cancel_by_label,
    "private/close_position": close_position,
}
