"""The book a backtest hedges, and its revaluation along market paths.

Owns `BacktestBook` (one underlying's options, its other positions as coin delta, and the hedge
instrument) and `revalue`, which prices every option on every path at every step with
`hedgebot.core.greeks.black76` at its smile vol (a `Smile` the composition root passes in: the
simulator's, sticky moneyness around the path's ATM vol; flat without one) and splits the
book's P&L into greek terms with `hedgebot.core.pnl.explain_option_pnl`. Everything here is
independent of the hedge policy, so it runs once per backtest and every policy reuses it.

Accounting (docs/backtest.md): P&L in USD, undiscounted; the options' initial value is financed
at `rate` (a short book earns interest on the premium); other positions (dated futures, counted
coin collateral) earn their coin delta times the price move.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from hedgebot.backtest.market import MarketPaths
from hedgebot.core.greeks import black76
from hedgebot.core.pnl import explain_option_pnl
from hedgebot.model.instruments import Instrument

FloatArray = NDArray[np.float64]
Smile = Callable[[FloatArray, FloatArray, float, FloatArray], FloatArray]
"""(atm vol, forward, strike, time to expiry in years) -> implied vol at the strike."""
MS_PER_YEAR = 365.0 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionLeg:
    """One option position: `amount` coin of underlying (negative = short)."""

    symbol: str
    strike: float
    expiry_ms: int
    is_call: bool
    amount: float


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestBook:
    """One underlying's book and the instrument that hedges it."""

    underlying: str
    options: tuple[OptionLeg, ...]
    static_coin: float = 0.0
    """Coin delta of linear positions and collateral that counts as delta."""
    inverse_face_usd: float = 0.0
    """USD face of inverse futures (coin delta face / price)."""
    hedge: Instrument
    smile: Smile | None = None

    def shifted(self, *, by_ms: int) -> BacktestBook:
        """The same book moved in time by `by_ms` (for replays of recorded data from another
        date: every time to expiry stays)."""
        legs = tuple(
            OptionLeg(
                symbol=leg.symbol,
                strike=leg.strike,
                expiry_ms=leg.expiry_ms + by_ms,
                is_call=leg.is_call,
                amount=leg.amount,
            )
            for leg in self.options
        )
        return BacktestBook(
            underlying=self.underlying,
            options=legs,
            static_coin=self.static_coin,
            inverse_face_usd=self.inverse_face_usd,
            hedge=self.hedge,
            smile=self.smile,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class BookPaths:
    """The book along every path: what the policy sees and what the book earns."""

    market: MarketPaths
    delta: FloatArray
    """(paths, steps + 1): coin delta of the book without the hedge."""
    gross: FloatArray
    """(paths, steps + 1): sum of absolute position deltas (for percent bands)."""
    gamma: FloatArray
    """(paths, steps + 1): book gamma, coin per USD."""
    cumulative: FloatArray
    """(paths, steps + 1): unhedged P&L since the start (options, other positions, financing)."""
    option_terms: FloatArray
    """(5, paths): option P&L per path split into delta, gamma, theta, vega, residual."""
    static_pnl: FloatArray
    """(paths,): P&L of the other positions."""
    financing: FloatArray
    """(paths,): interest earned on the financed initial option value."""

    @property
    def unhedged(self) -> FloatArray:
        """Final unhedged P&L of every path."""
        final: FloatArray = self.cumulative[:, -1]
        return final

    def path(self, index: int) -> BookPaths:
        """One path alone."""
        sl = slice(index, index + 1)
        return BookPaths(
            market=self.market.path(index),
            delta=self.delta[sl],
            gross=self.gross[sl],
            gamma=self.gamma[sl],
            cumulative=self.cumulative[sl],
            option_terms=self.option_terms[:, sl],
            static_pnl=self.static_pnl[sl],
            financing=self.financing[sl],
        )


def revalue(book: BacktestBook, market: MarketPaths, *, rate: float = 0.0) -> BookPaths:
    """Price the book on every path at every step and attribute its P&L."""
    spot, atm = market.spot, market.implied_vol
    shape = spot.shape
    times = market.start_ms + market.step_ms * np.arange(shape[1], dtype=np.float64)
    value = np.zeros(shape)
    delta = np.full(shape, book.static_coin) + book.inverse_face_usd / spot
    gross = np.zeros(shape)  # the options' gross delta, as `UnderlyingRisk.gross_delta`
    gamma = -book.inverse_face_usd / (spot * spot)
    vega = np.zeros(shape)
    theta = np.zeros(shape)
    for leg in book.options:
        tau = np.maximum((leg.expiry_ms - times) / MS_PER_YEAR, 0.0)
        sigma = atm if book.smile is None else book.smile(atm, spot, leg.strike, tau)
        g = black76(spot, leg.strike, tau, sigma, leg.is_call)
        value += leg.amount * g.price
        leg_delta = leg.amount * g.delta
        delta += leg_delta
        gross += np.abs(leg_delta)
        gamma += leg.amount * g.gamma
        vega += leg.amount * g.vega
        theta += leg.amount * g.theta
    d_price = np.diff(spot, axis=1)
    terms = explain_option_pnl(
        value_change=np.diff(value, axis=1),
        delta=(delta - book.static_coin - book.inverse_face_usd / spot)[:, :-1],
        gamma=(gamma + book.inverse_face_usd / (spot * spot))[:, :-1],
        vega=vega[:, :-1],
        theta=theta[:, :-1],
        d_price=d_price,
        d_vol=np.diff(atm, axis=1),
        dt_years=market.dt_years,
    )
    static_delta = book.static_coin + book.inverse_face_usd / spot[:, :-1]
    static_step = static_delta * d_price
    financing_step = np.full(d_price.shape, -value[:, :1] * rate * market.dt_years)
    cumulative = np.zeros(shape)
    np.cumsum(np.diff(value, axis=1) + static_step + financing_step, axis=1, out=cumulative[:, 1:])
    return BookPaths(
        market=market,
        delta=delta,
        gross=gross,
        gamma=gamma,
        cumulative=cumulative,
        option_terms=np.stack([t.sum(axis=1) for t in terms]),
        static_pnl=static_step.sum(axis=1),
        financing=financing_step.sum(axis=1),
    )
