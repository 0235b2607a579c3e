"""Position accounting: how a trade, a mark, funding and expiry change an account's money.

Owns `Holding` and the cash flows, all in the instrument's settlement currency:

* perpetuals and futures are futures-style: no cash at entry; closing realises P&L, for inverse
  contracts N·(1/F_entry − 1/F_exit) coin per USD face N of a long (the average entry of inverse
  contracts is harmonic: total USD over total coin), for linear ones q·(exit − entry);
  open positions count unrealised P&L at the mark;
* options and spot are premium-style: the premium (coin for inverse options) changes hands at
  each trade and the position counts at its mark value;
* funding moves rate·notional from longs to shorts (coin notional N/mark for inverse perps);
* at expiry futures settle their P&L and options their intrinsic value at the settlement price.

Pure functions over frozen values; it must not know about orders, books or margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from hedgebot.model.instruments import Instrument, Kind, OptionType
from hedgebot.model.market import Quote

_AMOUNT_DECIMALS = 10


@dataclass(frozen=True, slots=True, kw_only=True)
class Holding:
    """A signed position and its average entry price (coin for inverse options)."""

    amount: float = 0.0
    average_price: float = 0.0


def is_premium_style(instrument: Instrument) -> bool:
    """True where the full price is paid at each trade (options, spot), not settled as P&L."""
    return instrument.kind in (Kind.OPTION, Kind.SPOT)


def trade(
    instrument: Instrument, holding: Holding, signed_amount: float, price: float
) -> tuple[Holding, float]:
    """The holding after trading `signed_amount` at `price`, and the cash it moves."""
    old = holding.amount
    new = round(old + signed_amount, _AMOUNT_DECIMALS)
    if old == 0 or (old > 0) == (signed_amount > 0):
        average = _blend(instrument, holding, signed_amount, price)
        closed = 0.0
    elif abs(signed_amount) <= abs(old):
        average = holding.average_price if new != 0 else 0.0
        closed = abs(signed_amount)
    else:
        average = price
        closed = abs(old)
    if is_premium_style(instrument):
        cash = -signed_amount * price
    else:
        sign = 1.0 if old > 0 else -1.0
        cash = _futures_pnl(instrument, sign * closed, holding.average_price, price)
    return Holding(amount=new, average_price=average), cash


def mark_value(instrument: Instrument, holding: Holding, quote: Quote) -> float:
    """What the holding adds to equity at the quote's mark."""
    if is_premium_style(instrument):
        return holding.amount * quote.mark_price
    return _futures_pnl(instrument, holding.amount, holding.average_price, quote.mark_price)


def funding_cash(instrument: Instrument, amount: float, *, rate: float, mark: float) -> float:
    """Cash a perpetual position of `amount` receives (negative: pays) at one funding event."""
    notional = amount / mark if instrument.amount_is_usd else amount * mark
    return -rate * notional


def expiry_cash(instrument: Instrument, holding: Holding, settlement_price: float) -> float:
    """Cash a dated future or option position receives when it expires at `settlement_price`."""
    if instrument.kind is Kind.OPTION:
        strike = instrument.strike or 0.0
        if instrument.option_type is OptionType.CALL:
            intrinsic = max(settlement_price - strike, 0.0)
        else:
            intrinsic = max(strike - settlement_price, 0.0)
        per_coin = intrinsic / settlement_price if instrument.is_inverse else intrinsic
        return holding.amount * per_coin
    return _futures_pnl(instrument, holding.amount, holding.average_price, settlement_price)


def _futures_pnl(instrument: Instrument, amount: float, entry: float, exit_price: float) -> float:
    if amount == 0 or entry <= 0:
        return 0.0
    if instrument.amount_is_usd:
        return amount * (1.0 / entry - 1.0 / exit_price)
    return amount * (exit_price - entry)


def _blend(instrument: Instrument, holding: Holding, signed_amount: float, price: float) -> float:
    old, added = abs(holding.amount), abs(signed_amount)
    if old == 0 or holding.average_price <= 0:
        return price
    if instrument.amount_is_usd:
        return (old + added) / (old / holding.average_price + added / price)
    return (old * holding.average_price + added * price) / (old + added)
