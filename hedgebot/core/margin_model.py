"""The venue's margin model: initial and maintenance margin per position (Deribit standard margin).

Owns `MarginRates` and the per-position requirement (`requirement` for one position, and the
vectorised `option_maintenance` / `future_maintenance` that `hedgebot.core.stress` reprices a
shocked book with). The simulated venue charges exactly these figures (`hedgebot.venues.sim.margin`
calls `requirement`), so the rule is written once. Pure arithmetic over values; it must not fetch
anything, hold state or decide what is rejected.

Deribit standard (not portfolio) margin, per settlement currency (coin for inverse contracts, the
quote currency for linear ones):

* perpetuals and futures with USD notional n (coin notional n / mark for inverse ones):
  IM = notional·(future_initial + future_size_slope·n/1e6),
  MM = notional·(future_maintenance + future_size_slope·n/1e6)
  (2 % and 1 % plus 0.5 % per USD 1M by default);
* a short option, per coin of underlying: IM = max(0.15 − OTM/F, 0.10) + mark,
  MM = 0.075 + mark, in coin for coin-settled options (mark in coin) and times the forward F for
  linear ones (mark in USD); OTM is how far the strike is out of the money at F;
* long options and spot need none.

So a short option's maintenance margin rises with the option's mark: under a sell-off with rising
vol a short put's MM grows while equity falls. Portfolio margin and unified accounts are not
modelled; `MarginModel.REPORTED` means "use the venue's reported figure, scaled with the price"
(approximate; the report says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from hedgebot.model.instruments import Instrument, Kind, OptionType

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


class MarginModel(StrEnum):
    """How hedgebot projects an account's margin under a shock."""

    DERIBIT_STANDARD = "deribit_standard"
    """Recompute IM/MM per position with `MarginRates` at the shocked marks."""
    REPORTED = "reported"
    """The venue's reported MM, scaled with the price only (approximate)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginRates:
    """Rates of Deribit standard margin (fractions; see the module docstring)."""

    future_initial: float = 0.02
    future_maintenance: float = 0.01
    future_size_slope: float = 0.005
    """Extra margin rate per USD 1,000,000 of notional in one instrument."""
    option_initial_max: float = 0.15
    option_initial_min: float = 0.10
    option_maintenance: float = 0.075


DERIBIT_STANDARD = MarginRates()


def requirement(
    instrument: Instrument,
    amount: float,
    *,
    mark_price: float,
    forward: float,
    rates: MarginRates = DERIBIT_STANDARD,
) -> tuple[float, float]:
    """(initial, maintenance) margin of a position of `amount`, in its settlement currency.

    `mark_price` is the instrument's mark (coin per coin for coin-settled options, USD for
    linear options, futures and perpetuals); `forward` the option's underlying price.
    """
    if amount == 0:
        return 0.0, 0.0
    if instrument.kind in (Kind.PERPETUAL, Kind.FUTURE):
        return _futures(instrument.amount_is_usd, abs(amount), mark_price, rates)
    if instrument.kind is Kind.OPTION and amount < 0:
        strike = instrument.strike or 0.0
        if instrument.option_type is OptionType.CALL:
            out_of_money = max(strike - forward, 0.0)
        else:
            out_of_money = max(forward - strike, 0.0)
        initial_rate = max(
            rates.option_initial_max - out_of_money / forward, rates.option_initial_min
        )
        scale = 1.0 if instrument.is_inverse else forward
        size = -amount
        return (
            size * (initial_rate * scale + mark_price),
            size * (rates.option_maintenance * scale + mark_price),
        )
    return 0.0, 0.0


def _futures(
    amount_is_usd: bool, size: float, mark: float, rates: MarginRates
) -> tuple[float, float]:
    usd = size if amount_is_usd else size * mark
    notional = usd / mark if amount_is_usd else usd
    extra = rates.future_size_slope * usd / 1_000_000
    return (
        notional * (rates.future_initial + extra),
        notional * (rates.future_maintenance + extra),
    )


def option_maintenance(
    amount: FloatArray,
    value: FloatArray,
    forward: FloatArray,
    coin_settled: FloatArray | BoolArray,
    rates: MarginRates = DERIBIT_STANDARD,
) -> FloatArray:
    """MM of option positions (rows) at marks `value` (per coin; coin for coin-settled options).

    Arrays broadcast: `value` and `forward` may carry a column per shock.
    """
    short = np.maximum(-amount, 0.0)
    scale = np.where(coin_settled, 1.0, forward)
    result: FloatArray = short * (rates.option_maintenance * scale + value)
    return result


def future_maintenance(
    amount: FloatArray,
    price: FloatArray,
    inverse: FloatArray | BoolArray,
    rates: MarginRates = DERIBIT_STANDARD,
) -> FloatArray:
    """MM of futures/perpetual positions (rows) at marks `price` (columns per shock allowed).

    Inverse amounts are USD face (MM in coin), linear ones coin (MM in USD).
    """
    size = np.abs(amount)
    usd = np.where(inverse, size, size * price)
    notional = np.where(inverse, size / price, usd)
    result: FloatArray = notional * (
        rates.future_maintenance + rates.future_size_slope * usd / 1_000_000
    )
    return result
