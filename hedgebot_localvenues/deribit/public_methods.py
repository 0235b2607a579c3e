"""Handlers of Deribit's public methods: authentication, time, currencies, instruments, market data.

Owns ``public/auth`` (every grant type), ``public/get_time``, ``test``, ``status``, ``hello``,
``get_currencies``, ``get_instruments`` (``currency``/``kind``/``expired`` filters),
``get_instrument``, ``get_contract_size``, ``ticker``, ``get_order_book``, ``get_index_price``,
``get_index``, ``get_index_price_names``, ``get_book_summary_by_currency``/``_by_instrument``
and ``get_funding_rate_value``.
Session methods (subscribe, heartbeat) live with the websocket session.

It must not change any account.
"""

from __future__ import annotations

from typing import Any

from hedgebot.model.instruments import Instrument, Kind
from hedgebot_localvenues.deribit.calls import Call, Handler
from hedgebot_localvenues.deribit.rpc import invalid_param
from hedgebot_localvenues.deribit.state import VenueState
from hedgebot_localvenues.deribit.wire_market import (
    book_summary_json,
    currency_json,
    index_price_json,
    instrument_json,
    kind_of,
    order_book_json,
    settlement_currency_of,
    wire_contract_size,
)

API_VERSION = "1.2.26"
_KINDS = ("future", "option", "spot", "future_combo", "option_combo")


async def auth(state: VenueState, call: Call) -> Any:
    """``public/auth``: client_credentials, client_signature or refresh_token."""
    params = call.params
    grant_type = params.text("grant_type")
    if grant_type == "client_credentials":
        grant = state.auth.client_credentials(
            params.text("client_id"), params.text("client_secret")
        )
    elif grant_type == "client_signature":
        grant = state.auth.client_signature(
            params.text("client_id"),
            timestamp=params.text("timestamp"),
            nonce=params.text("nonce", ""),
            data=params.text("data", ""),
            signature=params.text("signature"),
        )
    elif grant_type == "refresh_token":
        grant = state.auth.refresh(params.text("refresh_token"))
    else:
        raise invalid_param("grant_type", "unsupported grant type")
    if call.session is not None:
        call.session.account = grant.account
    return grant.as_json()


async def get_time(state: VenueState, call: Call) -> Any:
    """``public/get_time``: exchange time in epoch milliseconds."""
    return state.now_ms()


async def test(state: VenueState, call: Call) -> Any:
    """``public/test``: the API version (also the answer to a heartbeat test request)."""
    return {"version": API_VERSION}


async def status(state: VenueState, call: Call) -> Any:
    """``public/status``: the platform is not locked."""
    return {"locked": "false", "locked_indices": []}


async def hello(state: VenueState, call: Call) -> Any:
    """``public/hello``: the API version."""
    return {"version": API_VERSION}


async def get_currencies(state: VenueState, call: Call) -> Any:
    """``public/get_currencies``: every currency listed instruments use."""
    return [currency_json(code) for code in state.currencies()]


async def get_instruments(state: VenueState, call: Call) -> Any:
    """``public/get_instruments``: active (or with expired=true, expired) instruments."""
    currency = call.params.text("currency", "any")
    kind = call.params.text("kind", "any")
    expired = call.params.flag("expired")
    now = state.now_ms()
    if currency != "any" and currency not in state.currencies():
        raise invalid_param("currency", "unknown currency")
    if kind != "any" and kind not in _KINDS:
        raise invalid_param("kind", "unknown kind")
    listing = []
    for instrument in state.instruments():
        data = instrument_json(instrument, listed_ms=state.listed_ms, now_ms=now)
        if data["is_active"] == expired:
            continue
        if kind != "any" and kind_of(instrument) != kind:
            continue
        if currency != "any" and currency not in _currencies_of(instrument):
            continue
        listing.append(data)
    return listing


async def get_instrument(state: VenueState, call: Call) -> Any:
    """``public/get_instrument``: one instrument."""
    instrument = state.instrument(call.params.text("instrument_name"))
    return instrument_json(instrument, listed_ms=state.listed_ms, now_ms=state.now_ms())


async def get_contract_size(state: VenueState, call: Call) -> Any:
    """``public/get_contract_size``."""
    instrument = state.instrument(call.params.text("instrument_name"))
    return {"contract_size": wire_contract_size(instrument)}


async def ticker(state: VenueState, call: Call) -> Any:
    """``public/ticker``: marks, top of book, greeks and funding of one instrument."""
    return state.ticker(state.instrument(call.params.text("instrument_name")))


async def get_order_book(state: VenueState, call: Call) -> Any:
    """``public/get_order_book``: the ticker plus `depth` levels a side."""
    instrument = state.instrument(call.params.text("instrument_name"))
    depth = call.params.integer("depth", 20)
    if depth < 1:
        raise invalid_param("depth", "must be positive")
    return order_book_json(
        state.ticker(instrument),
        state.market.depth(instrument, depth),
        change_id=state.now_ms(),
    )


async def get_index_price(state: VenueState, call: Call) -> Any:
    """``public/get_index_price``: the index named like ``btc_usd``."""
    name = call.params.text("index_name")
    underlying = state.index_names().get(name)
    if underlying is None:
        raise invalid_param("index_name", "unknown index")
    return index_price_json(state.market.index(underlying))


async def get_index(state: VenueState, call: Call) -> Any:
    """``public/get_index`` (deprecated by Deribit, still served): ``{"BTC": p, "edp": p}``."""
    currency = call.params.text("currency")
    if currency not in {i.underlying for i in state.instruments()}:
        raise invalid_param("currency", "unknown currency")
    price = state.market.index(currency).price
    return {currency: price, "edp": price}


async def get_index_price_names(state: VenueState, call: Call) -> Any:
    """``public/get_index_price_names``."""
    return sorted(state.index_names())


async def get_book_summary_by_currency(state: VenueState, call: Call) -> Any:
    """``public/get_book_summary_by_currency``: one summary per active instrument."""
    currency = call.params.text("currency")
    kind = call.params.text("kind", "any")
    now = state.now_ms()
    return [
        book_summary_json(instrument, state.ticker(instrument))
        for instrument in state.instruments()
        if currency in _currencies_of(instrument)
        and (kind == "any" or kind_of(instrument) == kind)
        and (instrument.expiry_ms is None or instrument.expiry_ms > now)
    ]


async def get_book_summary_by_instrument(state: VenueState, call: Call) -> Any:
    """``public/get_book_summary_by_instrument``: a one-element list, like Deribit."""
    instrument = state.instrument(call.params.text("instrument_name"))
    return [book_summary_json(instrument, state.ticker(instrument))]


async def get_funding_rate_value(state: VenueState, call: Call) -> Any:
    """``public/get_funding_rate_value``: the perpetual's current 8-hour funding rate.

    ccxt sends start/end in wall-clock time, which means nothing on a simulated clock: the
    rate now stands in for the rate over the period."""
    instrument = state.instrument(call.params.text("instrument_name"))
    if instrument.kind is not Kind.PERPETUAL:
        raise invalid_param("instrument_name", "not a perpetual")
    return state.market.quote(instrument).funding_rate_8h or 0.0


def _currencies_of(instrument: Instrument) -> set[str]:
    """Deribit files an instrument under its settlement currency (BTC_USDC-PERPETUAL: USDC)."""
    return {settlement_currency_of(instrument)}


PUBLIC_HANDLERS: dict[str, Handler] = {
    "public/auth": auth,
    "public/get_time": get_time,
    "public/test": test,
    "public/status": status,
    "public/hello": hello,
    "public/get_currencies": get_currencies,
    "public/get_instruments": get_instruments,
    "public/get_instrument": get_instrument,
    "public/get_contract_size": get_contract_size,
    "public/ticker": ticker,
    "public/get_order_book": get_order_book,
    "public/get_index_price": get_index_price,
    "public/get_index": get_index,
    "public/get_index_price_names": get_index_price_names,
    "public/get_book_summary_by_currency": get_book_summary_by_currency,
    "public/get_book_summary_by_instrument": get_book_summary_by_instrument,
    "public/get_funding_rate_value": get_funding_rate_value,
}
