"""Handlers of Deribit's private reads: positions, account summaries, orders and user trades.

Owns ``private/get_positions``, ``get_position``, ``get_account_summary``,
``get_account_summaries``, ``get_open_orders`` (plus ``_by_currency``, ``_by_instrument``,
``_by_label``), ``get_order_state``, ``get_order_state_by_label``, ``get_order_history_by_*``
and ``get_user_trades_by_currency`` / ``_by_instrument`` (with and without ``_and_time``) and
``_by_order``. Orders and trades are re-read from the broker before they are listed.

It must not change any order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hedgebot.model.account import Position
from hedgebot.model.instruments import Instrument
from hedgebot_localvenues.deribit.calls import Call, Handler
from hedgebot_localvenues.deribit.registry import OrderRecord, TradeRecord
from hedgebot_localvenues.deribit.rpc import invalid_param
from hedgebot_localvenues.deribit.state import VenueState
from hedgebot_localvenues.deribit.trading import (
    TRADING_HANDLERS,
    encode_order,
    owned_order,
    refresh,
    sync_fills,
)
from hedgebot_localvenues.deribit.wire_account import position_json, summary_json, trade_json
from hedgebot_localvenues.deribit.wire_market import kind_of, settlement_currency_of

MAX_COUNT = 1000


def _matches(instrument: Instrument, currency: str, kind: str) -> bool:
    return currency in ("any", settlement_currency_of(instrument)) and kind in (
        "any",
        kind_of(instrument),
    )


async def get_positions(state: VenueState, call: Call) -> Any:
    """``private/get_positions``: non-zero positions, optionally of one currency and kind."""
    account = call.require_account()
    currency = call.params.text("currency", "any")
    kind = call.params.text("kind", "any")
    snapshot = await state.broker(account).snapshot()
    positions = []
    for position in snapshot.positions:
        figures = state.position_figures(position)
        if (
            figures is not None
            and position.amount != 0
            and _matches(figures.instrument, currency, kind)
        ):
            positions.append(position_json(figures))
    return positions


async def get_position(state: VenueState, call: Call) -> Any:
    """``private/get_position``: one instrument's position (size 0 if there is none)."""
    account = call.require_account()
    instrument = state.instrument(call.params.text("instrument_name"))
    snapshot = await state.broker(account).snapshot()
    for position in snapshot.positions:
        if position.key.symbol == instrument.symbol:
            figures = state.position_figures(position)
            if figures is not None:
                return position_json(figures)
    empty = Position(account=account, key=instrument.key, amount=0.0)
    figures = state.position_figures(empty)
    assert figures is not None
    return position_json(figures)


async def _summaries(state: VenueState, account: str) -> list[dict[str, Any]]:
    snapshot = await state.broker(account).snapshot()
    account_id = state.account_id(account)
    return [summary_json(f, account_id=account_id) for f in state.account_figures(snapshot)]


async def get_account_summary(state: VenueState, call: Call) -> Any:
    """``private/get_account_summary``: one currency."""
    account = call.require_account()
    currency = call.params.text("currency")
    for summary in await _summaries(state, account):
        if summary["currency"] == currency:
            if call.params.flag("extended"):
                summary.update({"username": account, "system_name": account, "email": ""})
            return summary
    raise invalid_param("currency", "unknown currency")


async def get_account_summaries(state: VenueState, call: Call) -> Any:
    """``private/get_account_summaries``: every currency."""
    account = call.require_account()
    return {
        "id": state.account_id(account),
        "username": account,
        "system_name": account,
        "email": "",
        "type": "main",
        "summaries": await _summaries(state, account),
    }


async def _open_orders(
    state: VenueState, call: Call, keep: Callable[[OrderRecord], bool]
) -> list[dict[str, Any]]:
    account = call.require_account()
    order_type = call.params.text("type", "all")
    if order_type not in ("all", "limit", "market", "stop_all", "trigger_all"):
        raise invalid_param("type", "unknown type")
    open_records = [o for o in state.registry.orders_of(account) if o.is_open and keep(o)]
    listing = []
    for stale in open_records:
        record = await refresh(state, stale)
        if record.is_open and order_type in ("all", record.order_type):
            listing.append(encode_order(state, record))
    return listing


async def get_open_orders(state: VenueState, call: Call) -> Any:
    """``private/get_open_orders`` (``kind`` optional)."""
    kind = call.params.text("kind", "any")
    return await _open_orders(state, call, lambda o: _matches(o.instrument, "any", kind))


async def get_open_orders_by_currency(state: VenueState, call: Call) -> Any:
    """``private/get_open_orders_by_currency``."""
    currency = call.params.text("currency")
    kind = call.params.text("kind", "any")
    return await _open_orders(state, call, lambda o: _matches(o.instrument, currency, kind))


async def get_open_orders_by_instrument(state: VenueState, call: Call) -> Any:
    """``private/get_open_orders_by_instrument``."""
    symbol = state.instrument(call.params.text("instrument_name")).symbol
    return await _open_orders(state, call, lambda o: o.instrument.symbol == symbol)


async def get_open_orders_by_label(state: VenueState, call: Call) -> Any:
    """``private/get_open_orders_by_label``."""
    label = call.params.text("label")
    return await _open_orders(state, call, lambda o: o.label == label)


async def get_order_state(state: VenueState, call: Call) -> Any:
    """``private/get_order_state``: one order by id, open or not."""
    record = owned_order(state, call, call.params.text("order_id"))
    return encode_order(state, await refresh(state, record))


async def get_order_state_by_label(state: VenueState, call: Call) -> Any:
    """``private/get_order_state_by_label``: every order carrying a label (open or not)."""
    account = call.require_account()
    label = call.params.text("label")
    currency = call.params.text("currency", "any")
    listing = []
    for record in state.registry.by_label(account, label):
        if _matches(record.instrument, currency, "any"):
            listing.append(encode_order(state, await refresh(state, record)))
    return listing


async def _history(state: VenueState, call: Call, keep: Callable[[OrderRecord], bool]) -> Any:
    account = call.require_account()
    count = min(call.params.integer("count", 20), MAX_COUNT)
    offset = call.params.integer("offset", 0)
    ended = [
        encode_order(state, r)
        for r in reversed(state.registry.orders_of(account))
        if not r.is_open and keep(r)
    ]
    return ended[offset : offset + count]


async def get_order_history_by_currency(state: VenueState, call: Call) -> Any:
    """``private/get_order_history_by_currency``: ended orders, newest first."""
    currency = call.params.text("currency")
    kind = call.params.text("kind", "any")
    return await _history(state, call, lambda o: _matches(o.instrument, currency, kind))


async def get_order_history_by_instrument(state: VenueState, call: Call) -> Any:
    """``private/get_order_history_by_instrument``: ended orders, newest first."""
    symbol = state.instrument(call.params.text("instrument_name")).symbol
    return await _history(state, call, lambda o: o.instrument.symbol == symbol)


async def _user_trades(
    state: VenueState, call: Call, keep: Callable[[TradeRecord], bool]
) -> dict[str, Any]:
    account = call.require_account()
    count = min(call.params.integer("count", 10), MAX_COUNT)
    start = call.params.optional_integer("start_timestamp")
    end = call.params.optional_integer("end_timestamp")
    sorting = call.params.text("sorting", "desc")
    trades = [
        t
        for t in await sync_fills(state, account)
        if keep(t)
        and (start is None or t.fill.timestamp_ms >= start)
        and (end is None or t.fill.timestamp_ms <= end)
    ]
    trades.sort(key=lambda t: (t.fill.timestamp_ms, t.trade_seq), reverse=sorting != "asc")
    page = trades[:count]
    return {
        "trades": [_trade(state, t) for t in page],
        "has_more": len(trades) > count,
    }


def _trade(state: VenueState, trade: TradeRecord) -> dict[str, Any]:
    record = state.registry.get(trade.order_id)
    assert record is not None
    return trade_json(trade, record)


async def user_trades_by_currency(state: VenueState, call: Call) -> Any:
    """``private/get_user_trades_by_currency`` (and ``_and_time``)."""
    currency = call.params.text("currency")
    kind = call.params.text("kind", "any")
    return await _user_trades(
        state, call, lambda t: _matches(_instrument_of(state, t), currency, kind)
    )


async def user_trades_by_instrument(state: VenueState, call: Call) -> Any:
    """``private/get_user_trades_by_instrument`` (and ``_and_time``)."""
    symbol = state.instrument(call.params.text("instrument_name")).symbol
    return await _user_trades(state, call, lambda t: t.fill.key.symbol == symbol)


async def user_trades_by_order(state: VenueState, call: Call) -> Any:
    """``private/get_user_trades_by_order``: a plain list, oldest first."""
    record = owned_order(state, call, call.params.text("order_id"))
    await sync_fills(state, record.account)
    return [trade_json(t, record) for t in state.registry.trades_of_order(record.order_id)]


def _instrument_of(state: VenueState, trade: TradeRecord) -> Instrument:
    return state.instrument(trade.fill.key.symbol)


PRIVATE_HANDLERS: dict[str, Handler] = {
    "private/get_positions": get_positions,
    "private/get_position": get_position,
    "private/get_account_summary": get_account_summary,
    "private/get_account_summaries": get_account_summaries,
    "private/get_open_orders": get_open_orders,
    "private/get_open_orders_by_currency": get_open_orders_by_currency,
    "private/get_open_orders_by_instrument": get_open_orders_by_instrument,
    "private/get_open_orders_by_label": get_open_orders_by_label,
    "private/get_order_state": get_order_state,
    "private/get_order_state_by_label": get_order_state_by_label,
    "private/get_order_history_by_currency": get_order_history_by_currency,
    "private/get_order_history_by_instrument": get_order_history_by_instrument,
    "private/get_user_trades_by_currency": user_trades_by_currency,
    "private/get_user_trades_by_currency_and_time": user_trades_by_currency,
    "private/get_user_trades_by_instrument": user_trades_by_instrument,
    "private/get_user_trades_by_instrument_and_time": user_trades_by_instrument,
    "private/get_user_trades_by_order": user_trades_by_order,
    **TRADING_HANDLERS,
}
