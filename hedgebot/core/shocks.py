"""Full revaluation of the book under a shock of one underlying's price and implied volatility.

Owns `revalue` (one shock), `shock_grid` (a table of shocks per underlying) and the vectorised
pieces `headroom` builds on (`exposure`, `equity_changes`, `line_after`). Pure over frozen values;
it must not fetch anything, use greeks approximations (that is `hedgebot.core.headroom`) or format
text.

The shock (per underlying U):

* a spot move x multiplies every price of U by (1 + x): the index, every option forward
  (`Quote.underlying_price`) and every futures, perpetual and spot mark;
* a vol shift dv adds dv (absolute, 0.10 = ten vol points) to every option's implied vol, floored at
  `VOL_FLOOR` (or at the current vol where that is lower, so dv = 0 changes nothing);
* time does not pass; options are revalued with Black-76 (`hedgebot.core.greeks`), both before and
  after, so a zero shock changes nothing.

Margin lines. Every account's P&L lands in one of its margin currencies:

* a coin line (account, U) holds the coin equity (the venue's `MarginState.equity`, else the coin
  collateral balance, else 0), inverse perpetuals and futures of USD face N with coin P&L
  N·(1/F0 − 1/F1), and coin-settled options worth V/F coin each; its USD equity is coin × index;
* a linear line (account, the account's first margin currency that is not an underlying, else
  "USD") takes linear futures, perpetuals and spot P&L amount·ΔF and linear options' ΔV, in USD
  (stablecoins at par). Coin collateral held in a linear account shows as its own coin line
  (its USD value moves with the index) but is not credited to the linear line's margin.

Maintenance margin under a shock (`maintenance_after`), per the line's `MarginModel`:

* DERIBIT_STANDARD (the default): the venue's reported MM plus the change of the modelled MM of
  this underlying's positions (`hedgebot.core.margin_model`) from the current to the shocked marks.
  A short option's MM is 0.075 + mark per coin, so it grows as the option gains value under a spot
  move or a vol rise; a future's MM follows its notional. The venue's figure anchors the level,
  the model supplies the move.
* REPORTED (venues whose margin model hedgebot does not know: portfolio margin, unified accounts):
  the venue's MM in USD scales with the price, i.e. constant in coin for a coin line, MM·(1 + x)
  for a linear line; vol does not move it. Approximate, and the report says so.

Initial margin is not shocked. `vol_shift` may be one number for every option or one per option
(per-tenor shocks, `hedgebot.core.stress`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from hedgebot.core.greeks import black76
from hedgebot.core.margin_model import MarginModel, future_maintenance, option_maintenance
from hedgebot.core.risk import AccountBook, BookSnapshot
from hedgebot.model.account import MarginState
from hedgebot.model.instruments import Instrument, Kind, OptionType, years_between
from hedgebot.model.market import Quote

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

VOL_FLOOR = 0.01
"""Smallest implied vol a negative vol shift can bring an option to (1 vol point)."""
DEFAULT_SPOT_MOVES = (-0.3, -0.2, -0.1, -0.05, 0.0, 0.05, 0.1, 0.2, 0.3)
DEFAULT_VOL_SHIFTS = (-0.2, 0.0, 0.2)
USD = "USD"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginLine:
    """One account's margin currency exposed to an underlying, before any shock."""

    account: str
    currency: str
    coin: bool
    """True when the margin currency is the shocked coin itself (coin-margined)."""
    equity: float
    """Equity in the margin currency: the venue's, else the collateral balance, else 0."""
    margin: MarginState | None
    """The venue's margin state of this currency, None where the venue reported none."""
    model: MarginModel = MarginModel.DERIBIT_STANDARD
    """How this line's MM is projected under a shock (module docstring)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LineRevaluation:
    """One margin line after one shock. Amounts in the line's currency unless named _usd."""

    account: str
    currency: str
    coin: bool
    spot_move: float
    vol_shift: float
    equity: float
    change: float
    change_usd: float
    shocked_equity_usd: float
    maintenance_margin: float | None
    """Shocked maintenance margin (see the module docstring), None where unknown."""
    approximate: bool = False
    """True where the MM projection is the REPORTED model's price scaling only."""

    @property
    def shocked_equity(self) -> float:
        """Equity after the shock, in the line's currency."""
        return self.equity + self.change

    @property
    def maintenance_ratio(self) -> float | None:
        """Shocked MM / shocked equity (liquidation at 1.0); inf for non-positive equity."""
        if self.maintenance_margin is None:
            return None
        if self.shocked_equity <= 0:
            return math.inf
        return self.maintenance_margin / self.shocked_equity


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRevaluation:
    """One account under one shock: a revaluation per margin currency exposed to the underlying."""

    account: str
    lines: Mapping[str, LineRevaluation]
    missing: tuple[str, ...] = ()
    """Positions of this account that could not be revalued (no quote, unknown instrument)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionRows:
    """Options of one underlying as flat arrays, one element per position."""

    line: IntArray
    amount: FloatArray
    forward: FloatArray
    strike: FloatArray
    tau: FloatArray
    sigma: FloatArray
    is_call: BoolArray
    coin_settled: BoolArray

    def value(self, forward: FloatArray, sigma: FloatArray) -> FloatArray:
        """Black-76 value per coin of underlying (in coin, USD price / F, where coin-settled)."""
        if self.line.size == 0:
            return np.zeros(np.broadcast_shapes(forward.shape, sigma.shape))
        shape = (-1,) + (1,) * (forward.ndim - 1)
        price = black76(
            forward,
            self.strike.reshape(shape),
            self.tau.reshape(shape),
            sigma,
            self.is_call.reshape(shape),
        ).price
        return np.where(self.coin_settled.reshape(shape), price / forward, price)


@dataclass(frozen=True, slots=True, kw_only=True)
class FutureRows:
    """Futures, perpetuals and spot of one underlying, one element per position."""

    line: IntArray
    amount: FloatArray
    """USD face for inverse contracts, coin for linear ones."""
    price: FloatArray
    inverse: BoolArray


@dataclass(frozen=True, slots=True, kw_only=True)
class Exposure:
    """Everything of one underlying that a shock moves, and the lines its P&L lands in."""

    underlying: str
    index_price: float
    lines: tuple[MarginLine, ...]
    missing: Mapping[str, tuple[str, ...]]
    options: OptionRows
    futures: FutureRows
    option_value: FloatArray
    """Each option's value per coin before any shock (see `OptionRows.value`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GridLine:
    """One margin line over a whole grid: `cells[i][j]` is spot move i, vol shift j."""

    account: str
    currency: str
    coin: bool
    cells: tuple[tuple[LineRevaluation, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderlyingGrid:
    """The shock grid of one underlying."""

    underlying: str
    index_price: float
    spot_moves: tuple[float, ...]
    vol_shifts: tuple[float, ...]
    lines: tuple[GridLine, ...]
    missing: tuple[str, ...] = ()

    def total_change_usd(self) -> tuple[tuple[float, ...], ...]:
        """USD equity change of every account together, [spot move][vol shift]."""
        return tuple(
            tuple(
                math.fsum(line.cells[i][j].change_usd for line in self.lines)
                for j in range(len(self.vol_shifts))
            )
            for i in range(len(self.spot_moves))
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ShockGrid:
    """Shock grids of every underlying with an index price."""

    underlyings: Mapping[str, UnderlyingGrid]


@dataclass(slots=True)
class _Rows:
    """Collects the rows of an `Exposure` while walking the books."""

    lines: dict[tuple[str, str], tuple[int, MarginLine]] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)
    options: list[tuple[int, float, Instrument, Quote]] = field(default_factory=list)
    futures: list[tuple[int, float, float, bool]] = field(default_factory=list)

    def line_index(self, line: MarginLine) -> int:
        """The row of this (account, currency) line, added on first sight."""
        key = (line.account, line.currency)
        return self.lines.setdefault(key, (len(self.lines), line))[0]

    def miss(self, book: AccountBook, what: str) -> None:
        """Note a position of `book` that cannot be revalued."""
        self.missing.setdefault(book.account, []).append(what)

    def add(
        self,
        book: AccountBook,
        instrument: Instrument,
        amount: float,
        quote: Quote | None,
        index_prices: Mapping[str, float],
        *,
        model: MarginModel,
    ) -> None:
        """Add one position of the shocked underlying to the line its P&L lands in."""
        if quote is None or (instrument.kind is not Kind.OPTION and quote.mark_price <= 0):
            self.miss(book, f"{instrument.key} (no quote)")
            return
        coin = instrument.is_inverse
        line = (
            _coin_line(book, instrument.underlying, model)
            if coin
            else _linear_line(book, index_prices, model)
        )
        index = self.line_index(line)
        if instrument.kind is Kind.OPTION:
            self.options.append((index, amount, instrument, quote))
        else:
            self.futures.append((index, amount, quote.mark_price, instrument.amount_is_usd))


def exposure(
    snapshot: BookSnapshot,
    *,
    underlying: str,
    margin_models: Mapping[str, MarginModel] | None = None,
) -> Exposure:
    """The margin lines and positions of `underlying` that a shock of it revalues.

    `margin_models` names the margin model of an account (default DERIBIT_STANDARD).
    """
    index_prices = snapshot.index_prices
    instruments = snapshot.instruments
    quotes = snapshot.quotes
    index_price = index_prices[underlying]
    if not (math.isfinite(index_price) and index_price > 0):
        raise ValueError(f"{underlying}: index price must be positive, got {index_price}")
    models = margin_models or {}
    rows = _Rows()
    for book in snapshot.books:
        model = models.get(book.account, MarginModel.DERIBIT_STANDARD)
        if _holds_coin(book, underlying):
            rows.line_index(_coin_line(book, underlying, model))
        for position in book.positions:
            instrument = instruments.get(position.key)
            if instrument is None:
                rows.miss(book, f"{position.key} (unknown instrument)")
            elif instrument.underlying == underlying and position.amount != 0:
                quote = quotes.get(position.key)
                rows.add(book, instrument, position.amount, quote, index_prices, model=model)
    return _freeze(rows, underlying, index_price, snapshot.now_ms)


def _holds_coin(book: AccountBook, coin: str) -> bool:
    return coin in book.collateral or any(m.currency == coin for m in book.margin)


def _coin_line(book: AccountBook, coin: str, model: MarginModel) -> MarginLine:
    margin = next((m for m in book.margin if m.currency == coin), None)
    equity = margin.equity if margin is not None else book.collateral.get(coin, 0.0)
    return MarginLine(
        account=book.account, currency=coin, coin=True, equity=equity, margin=margin, model=model
    )


def linear_currency(book: AccountBook, index_prices: Mapping[str, float]) -> str:
    """Where linear P&L lands: the account's first margin currency that is no underlying, or USD."""
    return next((m.currency for m in book.margin if m.currency not in index_prices), USD)


def _linear_line(
    book: AccountBook, index_prices: Mapping[str, float], model: MarginModel
) -> MarginLine:
    currency = linear_currency(book, index_prices)
    margin = next((m for m in book.margin if m.currency == currency), None)
    equity = margin.equity if margin is not None else book.collateral.get(currency, 0.0)
    return MarginLine(
        account=book.account,
        currency=currency,
        coin=False,
        equity=equity,
        margin=margin,
        model=model,
    )


def _freeze(rows: _Rows, underlying: str, index_price: float, now_ms: int) -> Exposure:
    o = list(zip(*rows.options, strict=True)) or [()] * 4
    lines, amounts, instruments, quotes = o
    options = OptionRows(
        line=np.array(lines, dtype=np.intp),
        amount=np.array(amounts, dtype=np.float64),
        forward=np.array([q.underlying_price for q in quotes], dtype=np.float64),
        strike=np.array([i.strike or 0.0 for i in instruments], dtype=np.float64),
        tau=np.array(
            [years_between(now_ms, i.expiry_ms or now_ms) for i in instruments], dtype=np.float64
        ),
        sigma=np.array([q.mark_iv or 0.0 for q in quotes], dtype=np.float64),
        is_call=np.array([i.option_type is OptionType.CALL for i in instruments], dtype=bool),
        coin_settled=np.array([i.is_inverse for i in instruments], dtype=bool),
    )
    f = list(zip(*rows.futures, strict=True)) or [()] * 4
    futures = FutureRows(
        line=np.array(f[0], dtype=np.intp),
        amount=np.array(f[1], dtype=np.float64),
        price=np.array(f[2], dtype=np.float64),
        inverse=np.array(f[3], dtype=bool),
    )
    return Exposure(
        underlying=underlying,
        index_price=index_price,
        lines=tuple(line for _, line in rows.lines.values()),
        missing={account: tuple(items) for account, items in rows.missing.items()},
        options=options,
        futures=futures,
        option_value=options.value(options.forward, options.sigma),
    )


VolShift = float | FloatArray
"""One vol shift for every option, or one per option (in `OptionRows` order)."""


def shifted_vol(sigma: FloatArray, vol_shift: VolShift) -> FloatArray:
    """σ + dv, floored at `VOL_FLOOR` or at σ itself where σ is already below the floor."""
    return np.maximum(sigma + vol_shift, np.minimum(sigma, VOL_FLOOR))


def _moves(spot_moves: ArrayLike) -> FloatArray:
    moves = np.atleast_1d(np.asarray(spot_moves, dtype=np.float64))
    if moves.ndim != 1 or np.any(moves <= -1.0):
        raise ValueError("spot moves must be a flat sequence of fractions above -1")
    return moves


def equity_changes(exposure: Exposure, spot_moves: ArrayLike, vol_shift: VolShift) -> FloatArray:
    """Equity change of every line (rows, in its currency) for every spot move (columns)."""
    moves = _moves(spot_moves)
    growth = 1.0 + moves
    out = np.zeros((len(exposure.lines), moves.size))
    futures = exposure.futures
    if futures.line.size:
        amount, price = futures.amount[:, None], futures.price[:, None]
        inverse_pnl = amount / price * (1.0 - 1.0 / growth)
        pnl = np.where(futures.inverse[:, None], inverse_pnl, amount * price * moves)
        np.add.at(out, futures.line, pnl)
    options = exposure.options
    if options.line.size:
        after = options.value(
            options.forward[:, None] * growth, shifted_vol(options.sigma, vol_shift)[:, None]
        )
        pnl = options.amount[:, None] * (after - exposure.option_value[:, None])
        np.add.at(out, options.line, pnl)
    return out


def model_maintenance(exposure: Exposure, spot_moves: ArrayLike, vol_shift: VolShift) -> FloatArray:
    """Modelled MM of this underlying's positions per line (rows) and spot move (columns).

    Deribit standard margin (`hedgebot.core.margin_model`) at the shocked marks, in each line's
    currency; positions of other underlyings are not included.
    """
    moves = _moves(spot_moves)
    growth = 1.0 + moves
    out = np.zeros((len(exposure.lines), moves.size))
    futures = exposure.futures
    if futures.line.size:
        mm = future_maintenance(
            futures.amount[:, None], futures.price[:, None] * growth, futures.inverse[:, None]
        )
        np.add.at(out, futures.line, mm)
    options = exposure.options
    if options.line.size:
        forward = options.forward[:, None] * growth
        value = options.value(forward, shifted_vol(options.sigma, vol_shift)[:, None])
        mm = option_maintenance(
            options.amount[:, None], value, forward, options.coin_settled[:, None]
        )
        np.add.at(out, options.line, mm)
    return out


def maintenance_after(exposure: Exposure, spot_moves: ArrayLike, vol_shift: VolShift) -> FloatArray:
    """Shocked MM per line (rows) and spot move (columns), NaN where the venue reported none.

    DERIBIT_STANDARD lines: venue MM + (modelled MM shocked − modelled MM now); REPORTED lines:
    the venue's MM scaled with the price (module docstring).
    """
    moves = _moves(spot_moves)
    now = model_maintenance(exposure, [0.0], 0.0)
    shocked = model_maintenance(exposure, moves, vol_shift)
    out = np.full((len(exposure.lines), moves.size), np.nan)
    for k, line in enumerate(exposure.lines):
        if line.margin is None:
            continue
        mm = line.margin.maintenance_margin
        if line.model is MarginModel.DERIBIT_STANDARD:
            out[k] = np.maximum(mm + shocked[k] - now[k, 0], 0.0)
        else:
            out[k] = mm if line.coin else mm * (1.0 + moves)
    return out


def line_after(
    line: MarginLine,
    *,
    change: float,
    spot_move: float,
    vol_shift: float,
    index_price: float,
    maintenance: float,
) -> LineRevaluation:
    """A margin line after a shock that changed its equity by `change` (in its currency) and
    brought its MM to `maintenance` (NaN where unknown; see `maintenance_after`)."""
    growth = 1.0 + spot_move
    if line.coin:
        shocked_usd = (line.equity + change) * index_price * growth
        change_usd = shocked_usd - line.equity * index_price
    else:
        shocked_usd = line.equity + change
        change_usd = change
    return LineRevaluation(
        account=line.account,
        currency=line.currency,
        coin=line.coin,
        spot_move=spot_move,
        vol_shift=vol_shift,
        equity=line.equity,
        change=change,
        change_usd=change_usd,
        shocked_equity_usd=shocked_usd,
        maintenance_margin=None if math.isnan(maintenance) else maintenance,
        approximate=line.model is MarginModel.REPORTED,
    )


def revalue(
    snapshot: BookSnapshot,
    *,
    underlying: str,
    spot_move: float,
    vol_shift: float,
    margin_models: Mapping[str, MarginModel] | None = None,
) -> Mapping[str, AccountRevaluation]:
    """Every account exposed to `underlying`, fully revalued under one shock, by account."""
    exp = exposure(snapshot, underlying=underlying, margin_models=margin_models)
    changes = equity_changes(exp, [spot_move], vol_shift)[:, 0]
    maintenance = maintenance_after(exp, [spot_move], vol_shift)[:, 0]
    lines = [
        line_after(
            line,
            change=float(change),
            spot_move=spot_move,
            vol_shift=vol_shift,
            index_price=exp.index_price,
            maintenance=float(mm),
        )
        for line, change, mm in zip(exp.lines, changes, maintenance, strict=True)
    ]
    accounts = dict.fromkeys([*(line.account for line in lines), *exp.missing])
    return {
        account: AccountRevaluation(
            account=account,
            lines={line.currency: line for line in lines if line.account == account},
            missing=exp.missing.get(account, ()),
        )
        for account in accounts
    }


def shock_grid(
    snapshot: BookSnapshot,
    *,
    spot_moves: Sequence[float] = DEFAULT_SPOT_MOVES,
    vol_shifts: Sequence[float] = DEFAULT_VOL_SHIFTS,
    margin_models: Mapping[str, MarginModel] | None = None,
) -> ShockGrid:
    """Full revaluation of every line over spot moves × vol shifts, per underlying."""
    grids = {}
    for underlying in snapshot.index_prices:
        exp = exposure(snapshot, underlying=underlying, margin_models=margin_models)
        if exp.lines or exp.missing:
            grids[underlying] = _grid(exp, tuple(spot_moves), tuple(vol_shifts))
    return ShockGrid(underlyings=grids)


def _grid(
    exp: Exposure, spot_moves: tuple[float, ...], vol_shifts: tuple[float, ...]
) -> UnderlyingGrid:
    by_vol = [equity_changes(exp, spot_moves, dv) for dv in vol_shifts]
    mm_by_vol = [maintenance_after(exp, spot_moves, dv) for dv in vol_shifts]
    lines = tuple(
        GridLine(
            account=line.account,
            currency=line.currency,
            coin=line.coin,
            cells=tuple(
                tuple(
                    line_after(
                        line,
                        change=float(by_vol[j][k, i]),
                        spot_move=x,
                        vol_shift=dv,
                        index_price=exp.index_price,
                        maintenance=float(mm_by_vol[j][k, i]),
                    )
                    for j, dv in enumerate(vol_shifts)
                )
                for i, x in enumerate(spot_moves)
            ),
        )
        for k, line in enumerate(exp.lines)
    )
    missing = tuple(item for items in exp.missing.values() for item in items)
    return UnderlyingGrid(
        underlying=exp.underlying,
        index_price=exp.index_price,
        spot_moves=spot_moves,
        vol_shifts=vol_shifts,
        lines=lines,
        missing=missing,
    )
