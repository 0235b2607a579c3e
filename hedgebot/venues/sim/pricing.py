"""Vectorised marks and best prices of a fixed set of instruments from their underlyings' state.

Owns `InstrumentTable`: the static parameters of some instruments as arrays, and `price`, which
turns spot, vol and perp premium into every instrument's mark, forward, implied vol, funding rate
and best bid/ask in a few numpy calls (one Black-76 call for all options). Inputs broadcast, so
the same table prices many instruments at one step or one instrument at many steps:

* index = spot; dated future and option forward F = S·exp(basis·τ) (τ to expiry, ACT/365);
* perpetual mark = S·(1 + premium), funding rate per 8 h = premium clamped to ±cap;
* option mark = Black-76 price on F at the vol of `hedgebot.venues.sim.smile`, over F when
  coin-settled;
* bid/ask = `hedgebot.venues.sim.book.top_of_book`.

It must not know where the state comes from (the paths) or build quotes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hedgebot.core.greeks import black76
from hedgebot.model.instruments import Instrument, Kind, OptionType
from hedgebot.venues.sim.book import spread_fraction, ticks_per_unit, top_of_book
from hedgebot.venues.sim.settings import SECONDS_PER_YEAR, BookSettings, UnderlyingSettings
from hedgebot.venues.sim.smile import atm_vol, smile_vol

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
MS_PER_YEAR = SECONDS_PER_YEAR * 1000.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Marks:
    """Per instrument (or per step): mark (coin for coin-settled options), underlying price
    (forward; the mark for perps and spot), implied vol (NaN but for options), funding rate
    (NaN but for perps), best bid and ask."""

    mark: FloatArray
    underlying_price: FloatArray
    iv: FloatArray
    funding: FloatArray
    bid: FloatArray
    ask: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class _OptionParams:
    """Static parameters of the options of a table, one element per option."""

    strike: FloatArray
    is_call: BoolArray
    inverse: BoolArray
    vol: FloatArray
    jump_variance: FloatArray
    half_life: FloatArray
    iv_premium: FloatArray
    skew: FloatArray
    curvature: FloatArray

    @staticmethod
    def of(options: Sequence[Instrument], specs: Mapping[str, UnderlyingSettings]) -> _OptionParams:
        own = [specs[i.underlying] for i in options]
        return _OptionParams(
            strike=np.array([i.strike or 1.0 for i in options]),
            is_call=np.array([i.option_type is OptionType.CALL for i in options], dtype=np.bool_),
            inverse=np.array([i.is_inverse for i in options], dtype=np.bool_),
            vol=np.array([s.vol for s in own]),
            jump_variance=np.array([s.jump_variance_rate for s in own]),
            half_life=np.array([s.vol_half_life_hours for s in own]),
            iv_premium=np.array([s.iv_premium for s in own]),
            skew=np.array([s.smile_skew for s in own]),
            curvature=np.array([s.smile_curvature for s in own]),
        )


class InstrumentTable:
    """Static parameters of a fixed list of instruments, ready for vectorised pricing."""

    def __init__(
        self,
        instruments: Sequence[Instrument],
        *,
        specs: Mapping[str, UnderlyingSettings],
        book: BookSettings,
        funding_cap: float,
    ) -> None:
        self.instruments = tuple(instruments)
        self.keys = tuple(i.key for i in self.instruments)
        self.positions = {key: index for index, key in enumerate(self.keys)}
        self.is_option = tuple(i.kind is Kind.OPTION for i in self.instruments)
        self.is_perpetual = tuple(i.kind is Kind.PERPETUAL for i in self.instruments)
        self.underlyings = tuple(dict.fromkeys(i.underlying for i in self.instruments))
        self.underlying_index = np.array(
            [self.underlyings.index(i.underlying) for i in self.instruments], dtype=np.intp
        )
        self._is_perp = self._flags(Kind.PERPETUAL)
        self._is_spot = self._flags(Kind.SPOT)
        self._is_option = self._flags(Kind.OPTION)
        self._has_options = bool(self._is_option.any())
        self._expiry = np.array([float(i.expiry_ms or 0) for i in self.instruments])
        self._ticks_per_unit = ticks_per_unit(np.array([i.tick_size for i in self.instruments]))
        self._spread = np.array([spread_fraction(i, book) for i in self.instruments])
        self._basis = np.array([specs[i.underlying].basis for i in self.instruments])
        self._option_index = np.flatnonzero(self._is_option)
        self._option_params = _OptionParams.of(
            [i for i in self.instruments if i.kind is Kind.OPTION], specs
        )
        self._funding_cap = funding_cap

    def price(
        self, *, spot: FloatArray, vol: FloatArray, premium: FloatArray, times_ms: FloatArray
    ) -> Marks:
        """Marks given spot, diffusive vol, perp premium and time: either one element per
        instrument (or one for all), or, for a table of one instrument, one element per step."""
        shape = np.broadcast_shapes(spot.shape, times_ms.shape, self._expiry.shape)
        if len(self.instruments) != 1 and shape != self._expiry.shape:
            raise ValueError("a table of several instruments prices one step at a time")
        tau = _full((self._expiry - times_ms) / MS_PER_YEAR, shape)
        forward = _full(spot * np.exp(self._basis * np.maximum(tau, 0.0)), shape)
        perp_mark = spot * (1.0 + premium)
        mark = np.array(
            _full(np.where(self._is_perp, perp_mark, np.where(self._is_spot, spot, forward)), shape)
        )
        underlying = mark.copy()
        iv = np.full(shape, np.nan)
        if self._has_options:
            self._price_options(_full(vol, shape), tau, forward, out=(mark, underlying, iv))
        cap = self._funding_cap
        clamped = np.minimum(np.maximum(premium, -cap), cap)
        funding = np.array(_full(np.where(self._is_perp, clamped, np.nan), shape))
        bid, ask = top_of_book(mark, ticks_per_unit=self._ticks_per_unit, spread=self._spread)
        return Marks(
            mark=mark, underlying_price=underlying, iv=iv, funding=funding, bid=bid, ask=ask
        )

    def _price_options(
        self,
        vol: FloatArray,
        tau: FloatArray,
        forward: FloatArray,
        *,
        out: tuple[FloatArray, FloatArray, FloatArray],
    ) -> None:
        """Option marks into `out`; static parameters hold one element per option, which
        broadcasts against every step when the table holds a single option."""
        options = self._option_index if len(self.instruments) > 1 else slice(None)
        p = self._option_params
        f, t, diffusive = forward[options], tau[options], vol[options]
        atm = atm_vol(
            vol_now=np.sqrt(diffusive * diffusive + p.jump_variance),
            long_run_vol=p.vol,
            half_life_hours=p.half_life,
            iv_premium=p.iv_premium,
            tau=t,
        )
        iv = smile_vol(
            atm=atm, forward=f, strike=p.strike, tau=t, skew=p.skew, curvature=p.curvature
        )
        price = np.maximum(black76(f, p.strike, t, iv, p.is_call).price, 0.0)
        mark, underlying, implied = out
        mark[options] = np.where(p.inverse, price / f, price)
        underlying[options] = f
        implied[options] = iv

    def _flags(self, kind: Kind) -> BoolArray:
        return np.array([i.kind is kind for i in self.instruments], dtype=np.bool_)


def _full(values: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """`values` broadcast to `shape` (a read-only view unless it already has that shape)."""
    return values if values.shape == shape else np.broadcast_to(values, shape)
