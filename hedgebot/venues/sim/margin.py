"""Margin model of the simulated and paper venues: Deribit-like standard (not portfolio) margin.

Per settlement currency of an account (coin for inverse contracts, e.g. USDC for linear ones):

* equity = collateral + unrealised P&L of perpetuals/futures at the mark + mark value of options
  and spot (long positive, short negative);
* perpetuals/futures, per instrument with USD notional n (coin notional n/mark for inverse ones):
  IM = notional·(future_initial + future_size_slope·n/1e6), MM = notional·(future_maintenance +
  future_size_slope·n/1e6), i.e. 2% and 1% plus 0.5% per USD 1M by default;
* short options, per coin of underlying: IM = max(0.15 − OTM/F, 0.10) + mark,
  MM = 0.075 + mark (coin; for linear options the rates are times F), OTM = how far the strike is
  out of the money at the forward F; long options and spot need none.

Liquidation would start at MM ≥ equity; the simulator only reports it. Pure functions; it must not
know about orders or decide what is rejected (the ledger does).
"""

from __future__ import annotations

from collections.abc import Iterable

from hedgebot.model.account import MarginState
from hedgebot.model.instruments import Instrument, Kind, OptionType
from hedgebot.model.market import Quote
from hedgebot.venues.sim.accounting import Holding, mark_value
from hedgebot.venues.sim.settings import MarginSettings

PricedHolding = tuple[Instrument, Holding, Quote]


def requirement(
    instrument: Instrument, amount: float, quote: Quote, rules: MarginSettings
) -> tuple[float, float]:
    """(initial, maintenance) margin of a position of `amount` at the quote's marks."""
    if amount == 0:
        return 0.0, 0.0
    if instrument.kind in (Kind.PERPETUAL, Kind.FUTURE):
        return _futures_requirement(instrument, amount, quote.mark_price, rules)
    if instrument.kind is Kind.OPTION and amount < 0:
        return _short_option_requirement(instrument, -amount, quote, rules)
    return 0.0, 0.0


def margin_state(
    currency: str, cash: float, holdings: Iterable[PricedHolding], rules: MarginSettings
) -> MarginState:
    """Equity, initial and maintenance margin of one currency of an account."""
    equity, initial, maintenance = cash, 0.0, 0.0
    for instrument, holding, quote in holdings:
        equity += mark_value(instrument, holding, quote)
        im, mm = requirement(instrument, holding.amount, quote, rules)
        initial += im
        maintenance += mm
    return MarginState(
        currency=currency, equity=equity, initial_margin=initial, maintenance_margin=maintenance
    )


def _futures_requirement(
    instrument: Instrument, amount: float, mark: float, rules: MarginSettings
) -> tuple[float, float]:
    usd = abs(amount) if instrument.amount_is_usd else abs(amount) * mark
    notional = usd / mark if instrument.amount_is_usd else usd
    extra = rules.future_size_slope * usd / 1_000_000
    return (
        notional * (rules.future_initial + extra),
        notional * (rules.future_maintenance + extra),
    )


def _short_option_requirement(
    instrument: Instrument, size: float, quote: Quote, rules: MarginSettings
) -> tuple[float, float]:
    forward, strike = quote.underlying_price, instrument.strike or 0.0
    if instrument.option_type is OptionType.CALL:
        out_of_money = max(strike - forward, 0.0)
    else:
        out_of_money = max(forward - strike, 0.0)
    initial_rate = max(rules.option_initial_max - out_of_money / forward, rules.option_initial_min)
    scale = 1.0 if instrument.is_inverse else forward
    mark = quote.mark_price
    return (
        size * (initial_rate * scale + mark),
        size * (rules.option_maintenance * scale + mark),
    )
