"""Deribit's JSON for market data: instruments, currencies, tickers, order books and indices.

Owns the pure encoders from hedgebot values (plus the numbers `MarketView` derives) to the
field sets Deribit API v2 sends, checked against real recorded payloads in tests/data/deribit.
Naming follows Deribit: ``BTC-PERPETUAL`` is inverse (base BTC, counter USD, settled in BTC),
``BTC_USDC-PERPETUAL`` linear in USDC, ``BTC_USDC`` spot.

It must not read state: every input is passed in.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from hedgebot.model.instruments import Instrument, Kind, deribit_expiry_code
from hedgebot.model.market import IndexPrice, Quote
from hedgebot_localvenues.deribit.backend import Depth, Greeks

JsonDict = dict[str, Any]
PERPETUAL_EXPIRY_MS = 32503708800000
"""Deribit's expiration_timestamp of perpetuals (year 3000)."""

_CURRENCY_NAMES = {"BTC": "Bitcoin", "ETH": "Ethereum", "SOL": "Solana", "USDC": "USD Coin"}


def quote_currency_of(instrument: Instrument) -> str:
    """The counter currency: USD for inverse contracts, else the suffix (``BTC_USDC`` -> USDC)."""
    if instrument.is_inverse:
        return "USD"
    head = instrument.symbol.split("-", 1)[0]
    return head.split("_", 1)[1] if "_" in head else "USD"


def settlement_currency_of(instrument: Instrument) -> str:
    """The currency P&L, premium and margin are in: the coin for inverse contracts."""
    return instrument.underlying if instrument.is_inverse else quote_currency_of(instrument)


def index_name_of(instrument: Instrument) -> str:
    """Deribit's price index of an instrument, e.g. ``btc_usd`` or ``btc_usdc``."""
    return f"{instrument.underlying.lower()}_{quote_currency_of(instrument).lower()}"


def kind_of(instrument: Instrument) -> str:
    """Deribit's ``kind``: future (perpetuals too), option or spot."""
    if instrument.kind is Kind.OPTION:
        return "option"
    if instrument.kind is Kind.SPOT:
        return "spot"
    return "future"


def wire_contract_size(instrument: Instrument) -> float:
    """Deribit prints a contract size of 1 for options (the lot is min_trade_amount)."""
    return 1.0 if instrument.kind is Kind.OPTION else instrument.contract_size


def commissions(instrument: Instrument) -> tuple[float, float]:
    """(maker, taker) fee rates as Deribit lists them."""
    if instrument.kind is Kind.OPTION:
        return (0.0003, 0.0003)
    return (0.0, 0.0005)


def instrument_json(instrument: Instrument, *, listed_ms: int, now_ms: int) -> JsonDict:
    """One entry of ``public/get_instruments``."""
    maker, taker = commissions(instrument)
    quote_ccy = quote_currency_of(instrument)
    expiry = instrument.expiry_ms if instrument.expiry_ms is not None else PERPETUAL_EXPIRY_MS
    data: JsonDict = {
        "price_index": index_name_of(instrument),
        "kind": kind_of(instrument),
        "instrument_name": instrument.symbol,
        "max_leverage": 1 if instrument.kind is Kind.OPTION else 50,
        "maker_commission": maker,
        "taker_commission": taker,
        "instrument_type": "reversed" if instrument.is_inverse else "linear",
        "expiration_timestamp": expiry,
        "creation_timestamp": min(listed_ms, expiry),
        "is_active": expiry > now_ms,
        "tick_size": instrument.tick_size,
        "contract_size": wire_contract_size(instrument),
        "instrument_id": zlib.crc32(instrument.symbol.encode()) % 1_000_000,
        "min_trade_amount": instrument.min_amount or instrument.contract_size,
        "max_liquidation_commission": 0.0075,
        "block_trade_commission": 0.00025,
        "block_trade_min_trade_amount": 25 if instrument.kind is Kind.OPTION else 200000,
        "block_trade_tick_size": 0.0001,
        "settlement_currency": settlement_currency_of(instrument),
        "settlement_period": settlement_period(instrument),
        "base_currency": instrument.underlying,
        "counter_currency": quote_ccy,
        "quote_currency": (
            instrument.underlying
            if instrument.kind is Kind.OPTION and instrument.is_inverse
            else quote_ccy
        ),
        "tick_size_steps": [],
        "rfq": False,
    }
    if instrument.kind in (Kind.PERPETUAL, Kind.FUTURE):
        data["future_type"] = data["instrument_type"]
    if instrument.kind is Kind.OPTION:
        data["strike"] = instrument.strike
        data["option_type"] = instrument.option_type.value if instrument.option_type else None
    return data


def settlement_period(instrument: Instrument) -> str:
    """perpetual, month (last Friday of a month), week or day."""
    if instrument.expiry_ms is None:
        return "perpetual" if instrument.kind is Kind.PERPETUAL else "spot"
    moment = dt.datetime.fromtimestamp(instrument.expiry_ms / 1000, tz=dt.UTC)
    if moment.weekday() != 4:
        return "day"
    next_week = moment + dt.timedelta(days=7)
    return "month" if next_week.month != moment.month else "week"


def currency_json(code: str) -> JsonDict:
    """One entry of ``public/get_currencies``."""
    return {
        "currency": code,
        "currency_long": _CURRENCY_NAMES.get(code, code),
        "coin_type": "BITCOIN" if code == "BTC" else code,
        "fee_precision": 4,
        "min_confirmations": 1,
        "min_withdrawal_fee": 0.0001,
        "withdrawal_fee": 0.0001,
        "withdrawal_priorities": [],
        "network_fee": 0.0001,
        "network_currency": code,
        "apr": 0.0,
        "in_cross_collateral_pool": code in ("BTC", "ETH", "USDC"),
    }


def underlying_index_of(instrument: Instrument, listed: set[str]) -> str:
    """The future an option's forward comes from, or Deribit's synthetic ``SYN.`` name."""
    if instrument.expiry_ms is None:
        return "index_price"
    future = f"{instrument.underlying}-{deribit_expiry_code(instrument.expiry_ms)}"
    return future if future in listed else f"SYN.{future}"


def ticker_json(
    instrument: Instrument,
    quote: Quote,
    index: IndexPrice,
    depth: Depth,
    *,
    band: tuple[float, float],
    greeks: Greeks | None,
    underlying_index: str,
) -> JsonDict:
    """The ``public/ticker`` result (and ``ticker.*`` notification data) of one instrument."""
    bid_price, bid_amount = depth.best_bid()
    ask_price, ask_amount = depth.best_ask()
    data: JsonDict = {
        "timestamp": quote.timestamp_ms,
        "state": "open",
        "stats": {
            "high": None,
            "low": None,
            "price_change": None,
            "volume": 0.0,
            "volume_usd": 0.0,
            "volume_notional": 0.0,
        },
        "index_price": index.price,
        "instrument_name": instrument.symbol,
        "last_price": quote.mark_price,
        "settlement_price": quote.mark_price,
        "min_price": band[0],
        "max_price": band[1],
        "open_interest": 0.0,
        "mark_price": quote.mark_price,
        "best_bid_price": bid_price or quote.bid,
        "best_bid_amount": bid_amount,
        "best_ask_price": ask_price or quote.ask,
        "best_ask_amount": ask_amount,
        "estimated_delivery_price": index.price,
    }
    if instrument.kind is Kind.PERPETUAL:
        funding = quote.funding_rate_8h or 0.0
        data.update({"current_funding": funding, "funding_8h": funding, "interest_value": 0.0})
    if instrument.kind is Kind.OPTION:
        iv = round((quote.mark_iv or 0.0) * 100.0, 2)
        data.update(
            {
                "underlying_price": quote.underlying_price,
                "underlying_index": underlying_index,
                "mark_iv": iv,
                "bid_iv": iv if bid_price > 0 else 0.0,
                "ask_iv": iv if ask_price > 0 else 0.0,
                "interest_rate": 0.0,
                "greeks": _greeks_json(greeks),
            }
        )
    return data


def order_book_json(ticker: JsonDict, depth: Depth, *, change_id: int) -> JsonDict:
    """The ``public/get_order_book`` result: the ticker plus depth."""
    return {
        **ticker,
        "change_id": change_id,
        "bids": [[price, amount] for price, amount in depth.bids],
        "asks": [[price, amount] for price, amount in depth.asks],
    }


def book_summary_json(instrument: Instrument, ticker: JsonDict) -> JsonDict:
    """One entry of ``public/get_book_summary_by_currency`` / ``_by_instrument``."""
    bid, ask = ticker["best_bid_price"], ticker["best_ask_price"]
    summary: JsonDict = {
        "volume": 0.0,
        "volume_usd": 0.0,
        "underlying_price": ticker.get("underlying_price", ticker["index_price"]),
        "underlying_index": ticker.get("underlying_index", "index_price"),
        "quote_currency": quote_currency_of(instrument),
        "base_currency": instrument.underlying,
        "open_interest": 0.0,
        "mid_price": (bid + ask) / 2 if bid > 0 and ask > 0 else None,
        "mark_price": ticker["mark_price"],
        "low": None,
        "high": None,
        "last": ticker["last_price"],
        "interest_rate": 0.0,
        "instrument_name": instrument.symbol,
        "estimated_delivery_price": ticker["estimated_delivery_price"],
        "creation_timestamp": ticker["timestamp"],
        "bid_price": bid or None,
        "ask_price": ask or None,
        "price_change": None,
    }
    for key in ("current_funding", "funding_8h", "mark_iv"):
        if key in ticker:
            summary[key] = ticker[key]
    return summary


def index_price_json(index: IndexPrice) -> JsonDict:
    """The ``public/get_index_price`` result."""
    return {"index_price": index.price, "estimated_delivery_price": index.price}


def index_notification_json(index_name: str, index: IndexPrice) -> JsonDict:
    """The data of a ``deribit_price_index.{index_name}`` notification."""
    return {"index_name": index_name, "price": index.price, "timestamp": index.timestamp_ms}


def _greeks_json(greeks: Greeks | None) -> JsonDict:
    if greeks is None:
        return {"delta": 0.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0, "rho": 0.0}
    return {
        "delta": round(greeks.delta, 5),
        "gamma": round(greeks.gamma, 5),
        "vega": round(greeks.vega, 5),
        "theta": round(greeks.theta, 5),
        "rho": round(greeks.rho, 5),
    }
