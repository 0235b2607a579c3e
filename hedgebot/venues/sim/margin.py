"""Margin model of the simulated and paper venues: Deribit-like standard (not portfolio) margin.

Per settlement currency of an account (coin for inverse contracts, e.g. USDC for linear ones),
with the per-position requirements of `hedgebot.core.margin_model` (written once there):

* equity = collateral + unrealised P&L of perpetuals/futures at the mark + mark value of options
  and spot (long positive, short negative);
* perpetuals/futures, per instrument with USD notional n (coin notional n/mark for inverse ones):
  IM = notional·(future_initial + future_size_slope·n/1e6), MM = notional·(future_maintenance +
  future_size_slope·n/1e6), i.e. 2% and 1% plus 0.5% per USD 1M by default;
* short options, per coin of underlying: IM = max(0.15 − OTM/F, 0.10) + mark,
  MM = 0.075 + mark (coin; for linear options the rates are times F), OTM = how far the strike is
  out of the money at the forward F; long options and spot need none.

Liquidation starts at MM ≥ equity (`in_liquidation`; the ledger closes the positions). Pure
functions; it must not know about orders or decide what is rejected (the ledger does).
"""

from __future__ import annotations

from collections.abc import Iterable

from hedgebot.core.margin_model import MarginRates
from hedgebot.core.margin_model import requirement as core_requirement
from hedgebot.model.account import MarginState
from hedgebot.model.instruments import Instrument
from hedgebot.model.market import Quote
from hedgebot.venues.sim.accounting import Holding, mark_value

PricedHolding = tuple[Instrument, Holding, Quote]


def requirement(
    instrument: Instrument, amount: float, quote: Quote, rules: MarginRates
) -> tuple[float, float]:
    """(initial, maintenance) margin of a position of `amount` at the quote's marks."""
    return core_requirement(
        instrument,
        amount,
        mark_price=quote.mark_price,
        forward=quote.underlying_price,
        rates=rules,
    )


def margin_state(
    currency: str, cash: float, holdings: Iterable[PricedHolding], rules: MarginRates
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


def in_liquidation(state: MarginState) -> bool:
    """True when maintenance margin has reached equity (Deribit starts liquidating there)."""
    return state.maintenance_margin > 0 and state.maintenance_margin >= state.equity
