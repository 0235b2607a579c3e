"""Trading fees of the simulated and paper venues (Deribit-like), in the settlement currency.

* perpetuals and futures: maker/taker rate of notional; inverse ones pay coin = rate·USD/price;
* spot: the same, in the quote currency;
* options: `option_rate` per coin of underlying (times the underlying's price for linear ones),
  capped at `option_cap` of the premium.

A positive fee is paid by the account; a negative one (a maker rebate) is received. It must not
touch balances: the ledger applies what this returns.
"""

from __future__ import annotations

from hedgebot.model.instruments import Instrument, Kind
from hedgebot.venues.sim.settings import FeeSettings


def trade_fee(
    instrument: Instrument,
    *,
    amount: float,
    price: float,
    underlying_price: float,
    maker: bool,
    fees: FeeSettings,
) -> float:
    """Fee of one execution of unsigned `amount` at `price`, in the settlement currency."""
    if instrument.kind is Kind.OPTION:
        per_coin = fees.option_rate * (1.0 if instrument.is_inverse else underlying_price)
        return min(per_coin, fees.option_cap * price) * amount
    if instrument.kind is Kind.SPOT:
        rate = fees.spot_maker if maker else fees.spot_taker
    else:
        rate = fees.future_maker if maker else fees.future_taker
    if instrument.amount_is_usd:
        return rate * amount / price
    return rate * amount * price
