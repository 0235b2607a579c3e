"""Instrument definitions: what a tradable contract is, in the venue's own units.

Owns the frozen `Instrument` value and the unit conventions every other module relies on:

* `amount` of a position or order is in the instrument's *amount unit*: coin of the underlying for
  spot, linear contracts and every option; USD face for inverse perpetuals and inverse futures
  (Deribit BTC-PERPETUAL counts USD, in multiples of `contract_size` = 10).
* `contract_size` is the lot in that amount unit; `min_amount` the smallest order.
* Inverse options are coin-settled: their premium is quoted in coin.

It must not know about venues' wire formats (the adapters translate into these values).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from hedgebot.model import rounding

_MONTH_CODES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_CODES)}
_DERIBIT_EXPIRY = re.compile(r"^(\d{1,2})([A-Z]{3})(\d{2})$")


class Kind(StrEnum):
    """What sort of contract an instrument is."""

    SPOT = "spot"
    PERPETUAL = "perpetual"
    FUTURE = "future"
    OPTION = "option"


class Settlement(StrEnum):
    """Linear contracts settle in the quote currency; inverse ones in coin of the underlying."""

    LINEAR = "linear"
    INVERSE = "inverse"


class OptionType(StrEnum):
    """Call or put."""

    CALL = "call"
    PUT = "put"


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    """One tradable contract on one venue, with the units needed to turn amounts into coin delta."""

    venue: str
    symbol: str
    underlying: str
    kind: Kind
    settlement: Settlement = Settlement.LINEAR
    contract_size: float = 1.0
    min_amount: float = 0.0
    tick_size: float = 0.0
    expiry_ms: int | None = None
    strike: float | None = None
    option_type: OptionType | None = None

    def __post_init__(self) -> None:
        if self.contract_size <= 0:
            raise ValueError(f"{self.symbol}: contract_size must be positive")
        if self.kind is Kind.OPTION and (
            self.strike is None or self.option_type is None or self.expiry_ms is None
        ):
            raise ValueError(f"{self.symbol}: an option needs strike, option_type and expiry")
        if self.kind is Kind.FUTURE and self.expiry_ms is None:
            raise ValueError(f"{self.symbol}: a dated future needs an expiry")

    @property
    def key(self) -> InstrumentKey:
        """The (venue, symbol) pair that identifies this instrument everywhere in hedgebot."""
        return InstrumentKey(self.venue, self.symbol)

    @property
    def is_inverse(self) -> bool:
        """True for coin-settled contracts."""
        return self.settlement is Settlement.INVERSE

    @property
    def amount_is_usd(self) -> bool:
        """True where amounts are USD face (inverse perpetuals and futures), not coin."""
        return self.is_inverse and self.kind in (Kind.PERPETUAL, Kind.FUTURE)

    def round_amount(self, amount: float) -> float:
        """Truncate an absolute amount towards zero to a whole number of contracts."""
        rounded = rounding.to_step(abs(amount), self.contract_size)
        return rounded if amount >= 0 else -rounded

    def round_price(self, price: float, *, up: bool) -> float:
        """Round a price to the tick, up (for buys capped from above use up=False)."""
        if self.tick_size <= 0:
            return price
        return rounding.to_step(price, self.tick_size, up=up)


class InstrumentKey(NamedTuple):
    """Venue plus venue symbol: unique across every venue hedgebot trades.

    A named tuple rather than a dataclass: it is the key of every hot dictionary (quotes,
    positions), and tuple hashing and equality run in C.
    """

    venue: str
    symbol: str

    def __str__(self) -> str:
        return f"{self.venue}:{self.symbol}"


def deribit_expiry_ms(code: str) -> int:
    """Expiry of a Deribit date code such as ``13FEB21``: 08:00 UTC on that day, in epoch ms."""
    match = _DERIBIT_EXPIRY.match(code)
    if match is None:
        raise ValueError(f"not a Deribit expiry code: {code!r}")
    day, month, year = int(match[1]), _MONTHS[match[2]], 2000 + int(match[3])
    moment = dt.datetime(year, month, day, 8, 0, tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def deribit_expiry_code(expiry_ms: int) -> str:
    """Inverse of `deribit_expiry_ms`: ``13FEB21`` for 2021-02-13 08:00 UTC."""
    moment = dt.datetime.fromtimestamp(expiry_ms / 1000, tz=dt.UTC)
    month = _MONTH_CODES[moment.month - 1]
    return f"{moment.day}{month}{moment.year % 100:02d}"


def years_between(start_ms: float, end_ms: float) -> float:
    """ACT/365 year fraction between two epoch-ms instants (negative once expired)."""
    return (end_ms - start_ms) / (365.0 * 24 * 3600 * 1000)
