"""Risk: net delta, gamma and vega per underlying over every position of every account.

Pure. `compile_book` turns the account books into static arrays once (positions change rarely);
`evaluate` values them against the latest quotes every turn, vectorised: options through one
`hedgebot.core.greeks.black76` call, futures, perpetuals, spot and collateral through numpy
arithmetic on the conventions of `hedgebot.core.units`. `assess` does both, for one-off callers.
`BookSnapshot` is the book at one moment (account books, instruments, quotes, index prices, the
time), the one frozen value that `assess`, the headroom, the shocks, the stress and the report
take.
Quotes may come as any mapping; a `QuoteBoard` (a dict that also writes each quote's valuation
inputs into arrays as it is stored, O(1) per quote) lets `evaluate` gather a book's inputs with
one array take per group instead of a Python loop over its positions.
Every figure keeps the table of contributions it was summed from (`UnderlyingRisk.contributions`),
so an operator can trace it to positions.

Conventions (docs/conventions.md):
* coin-settled options count their premium-adjusted delta Δ − V/F; linear options count Δ;
* inverse perps/futures of USD face N count N/F, linear ones their coin amount;
* where an account counts collateral, its coin equity (balance + unrealised P&L + option value,
  as the venue reports it; else the collateral balance) is delta too; the inverse-contract
  convexity then cancels against the equity's own sensitivity, so gamma is the pure option
  gamma; where collateral is not counted, inverse positions add their convexity (−N/F² for
  futures, −(Δ−V/F)/F per coin option).
* linear contracts (linear options, futures, perpetuals, spot) are scaled by F/S, their
  forward over the index, to the index the perpetual hedge tracks (delta × F/S, gamma ×
  (F/S)²); inverse contracts stay on their own forward.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hedgebot.core.greeks import black76
from hedgebot.core.size_check import size_problems
from hedgebot.model.account import MarginState, Position
from hedgebot.model.instruments import Instrument, InstrumentKey, Kind, OptionType
from hedgebot.model.market import Quote

FloatArray = NDArray[np.float64]
_MS_PER_YEAR = 365.0 * 24 * 3600 * 1000
_OPTION_METHODS = (
    "Black-76 delta x F/S (linear option)",
    "premium-adjusted Black-76 delta (coin-settled)",
)
_FUTURE_METHODS = ("coin amount x F/S", "USD face / mark")
_COLLATERAL_METHODS = ("coin collateral", "coin equity (venue)")


class QuoteBoard(dict[InstrumentKey, Quote]):
    """The latest quote per instrument, with its valuation inputs kept in arrays by slot.

    Each instrument gets a slot the first time it is asked for or quoted; storing a quote
    (``board[key] = quote``) writes its forward (underlying price), mark, implied volatility and
    presence into the arrays; removing it clears the presence. Everything else is a dict.
    """

    def __init__(self) -> None:
        super().__init__()
        self._slot_of: dict[InstrumentKey, int] = {}
        self._next_slot = 0
        self._unquoted: int | None = None
        self.forward: FloatArray = np.ones(64)
        self.mark: FloatArray = np.ones(64)
        self.sigma: FloatArray = np.zeros(64)
        self.has_iv: NDArray[np.bool_] = np.zeros(64, np.bool_)
        self.present: NDArray[np.bool_] = np.zeros(64, np.bool_)

    def __setitem__(self, key: InstrumentKey, quote: Quote) -> None:
        super().__setitem__(key, quote)
        slot = self._slot_of.get(key)
        if slot is None:
            slot = self._new_slot(key)
        iv = quote.mark_iv
        self.forward[slot] = quote.underlying_price
        self.mark[slot] = quote.mark_price
        self.sigma[slot] = iv or 0.0
        self.has_iv[slot] = iv is not None
        self.present[slot] = True

    def __delitem__(self, key: InstrumentKey) -> None:
        super().__delitem__(key)
        self._forget(key)

    def pop(self, key: InstrumentKey, *default: Quote | None) -> Quote | None:  # type: ignore[override]
        """dict.pop, clearing the instrument's presence."""
        found = super().pop(key, *default)
        self._forget(key)
        return found

    def clear(self) -> None:
        """dict.clear, clearing every presence."""
        super().clear()
        self.present[:] = False

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Store every quote through `__setitem__`."""
        for key, quote in dict(*args, **kwargs).items():
            self[key] = quote

    def slots(self, keys: Sequence[InstrumentKey | None]) -> NDArray[np.intp]:
        """The slots of `keys`: new slots for unseen keys, a never-quoted one for None."""
        slot_of = self._slot_of
        for key in keys:
            if key is not None and key not in slot_of:
                self._new_slot(key)
        none_slot = self._none_slot()
        return np.fromiter(
            (none_slot if key is None else slot_of[key] for key in keys), np.intp, len(keys)
        )

    def _none_slot(self) -> int:
        if self._unquoted is None:
            self._unquoted = self._new_slot(None)
        return self._unquoted

    def _forget(self, key: InstrumentKey) -> None:
        slot = self._slot_of.get(key)
        if slot is not None:
            self.present[slot] = False

    def _new_slot(self, key: InstrumentKey | None) -> int:
        slot = self._next_slot
        self._next_slot += 1
        if key is not None:
            self._slot_of[key] = slot
        self._ensure(slot + 1)
        return slot

    def _ensure(self, size: int) -> None:
        capacity = len(self.present)
        if size <= capacity:
            return
        grown = max(size, 2 * capacity)
        self.forward = np.concatenate([self.forward, np.ones(grown - capacity)])
        self.mark = np.concatenate([self.mark, np.ones(grown - capacity)])
        self.sigma = np.concatenate([self.sigma, np.zeros(grown - capacity)])
        self.has_iv = np.concatenate([self.has_iv, np.zeros(grown - capacity, np.bool_)])
        self.present = np.concatenate([self.present, np.zeros(grown - capacity, np.bool_)])


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountBook:
    """One account's positions and margin, and whether its coin collateral counts as delta."""

    account: str
    positions: tuple[Position, ...]
    collateral: Mapping[str, float] = field(default_factory=dict)
    margin: tuple[MarginState, ...] = ()
    count_collateral: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class BookSnapshot:
    """The book at one moment: every account's book, the instruments and quotes they are valued
    with, the index prices and the time. Frozen: the sequences and mappings are copied (read-only)
    when it is made, so later quotes cannot change a snapshot being valued."""

    books: Sequence[AccountBook]
    instruments: Mapping[InstrumentKey, Instrument]
    quotes: Mapping[InstrumentKey, Quote]
    index_prices: Mapping[str, float]
    now_ms: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "books", tuple(self.books))
        for name in ("instruments", "quotes", "index_prices"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


@dataclass(frozen=True, slots=True, kw_only=True)
class Contribution:
    """What one position (or collateral balance) adds to its underlying's risk."""

    account: str
    source: str
    amount: float
    delta: float
    gamma: float
    vega: float
    method: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContributionTable:
    """Contributions to one underlying as numeric columns; labels are looked up on demand."""

    segments: tuple[tuple[_Group, NDArray[np.intp], tuple[str, str]], ...] = ()
    """(rows of a group, their indices, method label by flag), in column order."""
    amounts: FloatArray = field(default_factory=lambda: np.zeros(0))
    deltas: FloatArray = field(default_factory=lambda: np.zeros(0))
    gammas: FloatArray = field(default_factory=lambda: np.zeros(0))
    vegas: FloatArray = field(default_factory=lambda: np.zeros(0))

    def rows(self) -> tuple[Contribution, ...]:
        """One `Contribution` per row."""
        labels = [
            (group.accounts[i], group.sources[i], methods[int(group.flags[i])])
            for group, index, methods in self.segments
            for i in index
        ]
        return tuple(
            Contribution(
                account=account,
                source=source,
                amount=float(self.amounts[n]),
                delta=float(self.deltas[n]),
                gamma=float(self.gammas[n]),
                vega=float(self.vegas[n]),
                method=method,
            )
            for n, (account, source, method) in enumerate(labels)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionTotals:
    """Value (USD) and Black-76 greeks of one underlying's options: delta coin, gamma coin/USD,
    theta USD per year, vega USD per vol point, the vega-weighted implied vol (a fraction), and
    the delta and gamma the options add to the book's net figures (premium-adjusted where the
    book counts that way)."""

    value: float = 0.0
    delta: float = 0.0
    gamma: float = 0.0
    theta: float = 0.0
    vega: float = 0.0
    implied_vol: float = 0.0
    net_delta: float = 0.0
    net_gamma: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderlyingRisk:
    """Aggregated risk of one underlying. Delta in coin, gamma coin/USD, vega USD per vol point."""

    underlying: str
    price: float
    net_delta: float
    gross_delta: float
    """Sum of the absolute deltas of the options alone (what a percent band is a share of):
    collateral and futures, the hedge among them, are left out, so hedging does not widen it."""
    gamma: float
    vega: float
    table: ContributionTable = field(default_factory=ContributionTable)
    missing: tuple[str, ...] = ()
    """Positions that could not be valued (no quote): the figures above are then incomplete."""
    options: OptionTotals = field(default_factory=OptionTotals)
    """The options alone: value and greeks for the live P&L attribution."""

    @property
    def contributions(self) -> tuple[Contribution, ...]:
        """The rows the figures were summed from."""
        return self.table.rows()

    @property
    def net_delta_usd(self) -> float:
        """Net delta in USD at the current price."""
        return self.net_delta * self.price

    @property
    def complete(self) -> bool:
        """True when every position of this underlying could be valued."""
        return not self.missing


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskReport:
    """Risk of the whole book at one instant."""

    timestamp_ms: int
    underlyings: Mapping[str, UnderlyingRisk]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Group:
    """Static rows of one kind (options, futures or collateral) as parallel columns."""

    keys: tuple[InstrumentKey | None, ...]
    accounts: tuple[str, ...]
    sources: tuple[str, ...]
    underlyings: tuple[str, ...]
    amounts: FloatArray
    flags: NDArray[np.bool_]
    """Options: coin-settled. Futures: amount in USD face."""
    counted: NDArray[np.bool_]
    """The account counts collateral (inverse convexity cancels)."""
    strikes: FloatArray
    expiries: FloatArray
    calls: NDArray[np.bool_]
    rows_of: Mapping[str, NDArray[np.intp]]
    """Row indices of each underlying."""
    second: FloatArray = field(default_factory=lambda: np.zeros(0))
    """Futures: the venue's second size figure in coin (NaN where none; `core.size_check`)."""
    second_fields: tuple[str, ...] = ()
    board_slots: list[tuple[QuoteBoard, NDArray[np.intp]]] = field(default_factory=list)
    """The rows' slots on the last `QuoteBoard` they were valued against (a one-entry cache)."""

    def slots_on(self, board: QuoteBoard) -> NDArray[np.intp]:
        """The rows' slots on `board`, looked up once per board."""
        if not self.board_slots or self.board_slots[0][0] is not board:
            self.board_slots[:] = [(board, board.slots(self.keys))]
        return self.board_slots[0][1]


@dataclass(frozen=True, slots=True, kw_only=True)
class CompiledBook:
    """Account books as static arrays, ready to be valued against quotes every turn."""

    options: _Group
    futures: _Group
    collateral: _Group
    unknown: tuple[str, ...]
    layout: tuple[tuple[str, bool, tuple[InstrumentKey, ...]], ...] = ()
    """Which positions, in which order: while it holds, only amounts need refreshing."""
    option_slots: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp))
    future_slots: NDArray[np.intp] = field(default_factory=lambda: np.zeros(0, np.intp))


def _group(rows: Sequence[tuple[Instrument | None, str, str, str, float, bool, bool]]) -> _Group:
    n = len(rows)
    instruments = [r[0] for r in rows]
    rows_of: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        rows_of.setdefault(row[3], []).append(i)
    return _Group(
        rows_of={u: np.asarray(ix, dtype=np.intp) for u, ix in rows_of.items()},
        keys=tuple(i.key if i else None for i in instruments),
        accounts=tuple(r[1] for r in rows),
        sources=tuple(r[2] for r in rows),
        underlyings=tuple(r[3] for r in rows),
        amounts=np.fromiter((r[4] for r in rows), np.float64, n),
        flags=np.fromiter((r[5] for r in rows), np.bool_, n),
        counted=np.fromiter((r[6] for r in rows), np.bool_, n),
        strikes=np.fromiter(((i.strike or 0.0) if i else 0.0 for i in instruments), np.float64, n),
        expiries=np.fromiter(
            (float(i.expiry_ms or 0) if i else 0.0 for i in instruments), np.float64, n
        ),
        calls=np.fromiter(
            (i is not None and i.option_type is OptionType.CALL for i in instruments), np.bool_, n
        ),
    )


def compile_book(
    books: Sequence[AccountBook],
    instruments: Mapping[InstrumentKey, Instrument],
    *,
    previous: CompiledBook | None = None,
) -> CompiledBook:
    """The static part of risk: which rows exist and their amounts, strikes and flags.

    With `previous` compiled from the same positions (same accounts, instruments and order),
    only the amounts and collateral are refreshed: a fill changes amounts, not the layout.
    """
    layout = tuple(
        (b.account, b.count_collateral, tuple(p.key for p in b.positions)) for b in books
    )
    if previous is not None and previous.layout == layout:
        amounts = np.fromiter((p.amount for b in books for p in b.positions), np.float64)
        second = np.fromiter(
            (_second(p) for b in books for p in b.positions), np.float64, len(amounts)
        )
        return dataclasses.replace(
            previous,
            options=dataclasses.replace(previous.options, amounts=amounts[previous.option_slots]),
            futures=dataclasses.replace(
                previous.futures,
                amounts=amounts[previous.future_slots],
                second=second[previous.future_slots],
            ),
            collateral=_collateral_group(books),
        )
    options, futures, unknown = [], [], []
    option_slots: list[int] = []
    future_slots: list[int] = []
    seconds: list[tuple[float, str]] = []
    slot = -1
    for book in books:
        counted = book.count_collateral
        for position in book.positions:
            slot += 1
            instrument = instruments.get(position.key)
            if instrument is None:
                unknown.append(f"{position.key} (unknown instrument)")
                continue
            row = (instrument, book.account, str(position.key), instrument.underlying)
            if instrument.kind is Kind.OPTION:
                options.append((*row, position.amount, instrument.is_inverse, counted))
                option_slots.append(slot)
            else:
                futures.append((*row, position.amount, instrument.amount_is_usd, counted))
                future_slots.append(slot)
                seconds.append((_second(position), position.size_field))
    return CompiledBook(
        options=_group(options),
        futures=dataclasses.replace(
            _group(futures),
            second=np.fromiter((s[0] for s in seconds), np.float64, len(seconds)),
            second_fields=tuple(s[1] for s in seconds),
        ),
        collateral=_collateral_group(books),
        unknown=tuple(unknown),
        layout=layout,
        option_slots=np.asarray(option_slots, dtype=np.intp),
        future_slots=np.asarray(future_slots, dtype=np.intp),
    )


def _second(position: Position) -> float:
    return math.nan if position.size_coin is None else position.size_coin


def refresh_collateral(book: CompiledBook, books: Sequence[AccountBook]) -> CompiledBook:
    """`book` with only its collateral rows re-read from `books` (same positions: the equity
    was revalued to new marks)."""
    return dataclasses.replace(book, collateral=_collateral_group(books))


def _collateral_group(books: Sequence[AccountBook]) -> _Group:
    rows: list[tuple[Instrument | None, str, str, str, float, bool, bool]] = []
    for book in books:
        if not book.count_collateral:
            continue
        equity = {m.currency: m.equity for m in book.margin}
        for currency in sorted(set(book.collateral) | set(equity)):
            coins = equity.get(currency, book.collateral.get(currency, 0.0))
            source = f"{currency} collateral"
            rows.append((None, book.account, source, currency, coins, currency in equity, True))
    return _group(rows)


@dataclass(slots=True)
class _Valued:
    deltas: FloatArray
    gammas: FloatArray
    vegas: FloatArray
    valid: NDArray[np.bool_]
    problems: Mapping[int, str] = field(default_factory=dict)
    """Why a row with a quote is not valued, by row (else: no quote)."""
    options: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray] | None = None
    """Options only: USD value, Black-76 delta and gamma, theta (USD/year) and implied vol of
    each position."""


def _spot_scale(
    group: _Group, forward: FloatArray, index_prices: Mapping[str, float]
) -> FloatArray:
    """F/S for linear rows (a coin of forward F moves F/S per unit move of the index S, which
    the perpetual hedge tracks), 1 for inverse rows or without an index."""
    spot = np.fromiter(
        (index_prices.get(u, math.nan) for u in group.underlyings), np.float64, len(group.keys)
    )
    usable = ~group.flags & np.isfinite(spot) & (spot > 0)
    result: FloatArray = np.where(usable, forward / np.where(usable, spot, 1.0), 1.0)
    return result


def _option_inputs(
    group: _Group, quotes: Mapping[InstrumentKey, Quote]
) -> tuple[NDArray[np.bool_], FloatArray, FloatArray]:
    """(valid, forward, sigma) of each option row: array takes on a `QuoteBoard`."""
    if isinstance(quotes, QuoteBoard):
        slots = group.slots_on(quotes)
        valid = quotes.present[slots] & quotes.has_iv[slots]
        return valid, np.where(valid, quotes.forward[slots], 1.0), quotes.sigma[slots]
    n = len(group.keys)
    found = [quotes.get(key) for key in group.keys]  # type: ignore[arg-type]
    valid = np.fromiter((q is not None and q.mark_iv is not None for q in found), np.bool_, n)
    forward = np.fromiter((q.underlying_price if q else 1.0 for q in found), np.float64, n)
    sigma = np.fromiter(((q.mark_iv or 0.0) if q else 0.0 for q in found), np.float64, n)
    return valid, forward, sigma


def _value_options(
    group: _Group,
    quotes: Mapping[InstrumentKey, Quote],
    now_ms: int,
    index_prices: Mapping[str, float],
) -> _Valued:
    valid, forward, sigma = _option_inputs(group, quotes)
    tau = (group.expiries - now_ms) / _MS_PER_YEAR
    greeks = black76(forward, group.strikes, tau, sigma, group.calls)
    adjusted = greeks.delta - np.where(group.flags, greeks.price / forward, 0.0)
    convexity = np.where(group.flags & ~group.counted, adjusted / forward, 0.0)
    amounts = np.where(valid, group.amounts, 0.0)
    scale = _spot_scale(group, forward, index_prices)
    return _Valued(
        deltas=amounts * adjusted * scale,
        gammas=amounts * (greeks.gamma - convexity) * scale * scale,
        vegas=amounts * greeks.vega / 100.0,
        valid=valid,
        options=(
            amounts * greeks.price,
            amounts * greeks.delta,
            amounts * greeks.gamma,
            amounts * greeks.theta,
            sigma,
        ),
    )


def _value_futures(
    group: _Group, quotes: Mapping[InstrumentKey, Quote], index_prices: Mapping[str, float]
) -> _Valued:
    n = len(group.keys)
    if isinstance(quotes, QuoteBoard):
        slots = group.slots_on(quotes)
        quoted = quotes.present[slots]
        price = np.where(quoted, quotes.mark[slots], 1.0)
    else:
        found = [quotes.get(key) for key in group.keys]  # type: ignore[arg-type]
        quoted = np.fromiter((q is not None for q in found), np.bool_, n)
        price = np.fromiter((q.mark_price if q else 1.0 for q in found), np.float64, n)
    second = group.second if group.second.size == n else np.full(n, np.nan)
    problems = size_problems(
        group.amounts, group.flags, price, np.where(quoted, second, np.nan), group.second_fields
    )
    valid = quoted.copy()
    valid[list(problems)] = False
    amounts = np.where(valid, group.amounts, 0.0)
    linear = amounts * _spot_scale(group, price, index_prices)
    deltas = np.where(group.flags, amounts / price, linear)
    gammas = np.where(group.flags & ~group.counted, -amounts / (price * price), 0.0)
    return _Valued(deltas=deltas, gammas=gammas, vegas=np.zeros(n), valid=valid, problems=problems)


def evaluate(
    book: CompiledBook,
    *,
    quotes: Mapping[InstrumentKey, Quote],
    index_prices: Mapping[str, float],
    now_ms: int,
) -> RiskReport:
    """Value a compiled book against the latest quotes."""
    parts = (
        (
            book.options,
            _value_options(book.options, quotes, now_ms, index_prices),
            _OPTION_METHODS,
        ),
        (book.futures, _value_futures(book.futures, quotes, index_prices), _FUTURE_METHODS),
    )
    collateral = book.collateral
    underlyings = dict.fromkeys(index_prices)
    for group, _, _ in parts:
        underlyings.update(dict.fromkeys(group.underlyings))
    result = {}
    for name in underlyings:
        if name not in index_prices and name not in (
            *book.options.underlyings,
            *book.futures.underlyings,
        ):
            continue
        result[name] = _aggregate(name, parts, collateral, index_prices.get(name, 0.0))
    if book.unknown:
        result["?"] = UnderlyingRisk(
            underlying="?",
            price=0.0,
            net_delta=0.0,
            gross_delta=0.0,
            gamma=0.0,
            vega=0.0,
            missing=book.unknown,
        )
    return RiskReport(timestamp_ms=now_ms, underlyings=result)


def _aggregate(
    name: str,
    parts: Sequence[tuple[_Group, _Valued, tuple[str, str]]],
    collateral: _Group,
    price: float,
) -> UnderlyingRisk:
    segments: list[tuple[_Group, NDArray[np.intp], tuple[str, str]]] = []
    columns: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray]] = []
    missing: list[str] = []
    options_gross = 0.0
    options = OptionTotals()
    for group, valued, labels in parts:
        index = group.rows_of.get(name)
        if index is None:
            continue
        if labels is _OPTION_METHODS:
            options_gross += float(np.abs(valued.deltas[index]).sum())
        if valued.options is not None:
            options = _option_totals(valued, index)
        if not valued.valid[index].all():
            missing += [
                f"{group.keys[i]} ({valued.problems.get(int(i), 'no quote')})"
                for i in index
                if not valued.valid[i] and group.amounts[i] != 0
            ]
        segments.append((group, index, labels))
        columns.append(
            (group.amounts[index], valued.deltas[index], valued.gammas[index], valued.vegas[index])
        )
    held = collateral.rows_of.get(name)
    if held is not None:
        coins = collateral.amounts[held]
        segments.append((collateral, held, _COLLATERAL_METHODS))
        zeros = np.zeros(len(held))
        columns.append((coins, coins, zeros, zeros))
    amounts, deltas, gammas, vegas = (
        np.concatenate([c[k] for c in columns]) if columns else np.zeros(0) for k in range(4)
    )
    return UnderlyingRisk(
        underlying=name,
        price=price,
        net_delta=float(deltas.sum()),
        gross_delta=options_gross,
        gamma=float(gammas.sum()),
        vega=float(vegas.sum()),
        table=ContributionTable(
            segments=tuple(segments), amounts=amounts, deltas=deltas, gammas=gammas, vegas=vegas
        ),
        missing=tuple(missing),
        options=options,
    )


def _option_totals(valued: _Valued, index: NDArray[np.intp]) -> OptionTotals:
    assert valued.options is not None
    values, deltas, gammas, thetas, sigmas = (column[index] for column in valued.options)
    vegas = valued.vegas[index]
    weights = np.abs(vegas)
    weight = float(weights.sum())
    return OptionTotals(
        value=float(values.sum()),
        delta=float(deltas.sum()),
        gamma=float(gammas.sum()),
        theta=float(thetas.sum()),
        vega=float(vegas.sum()),
        implied_vol=float((weights * sigmas).sum() / weight) if weight > 0 else 0.0,
        net_delta=float(valued.deltas[index].sum()),
        net_gamma=float(valued.gammas[index].sum()),
    )


def assess(snapshot: BookSnapshot) -> RiskReport:
    """Net delta, gamma and vega per underlying, with the contributions they came from."""
    return evaluate(
        compile_book(snapshot.books, snapshot.instruments),
        quotes=snapshot.quotes,
        index_prices=snapshot.index_prices,
        now_ms=snapshot.now_ms,
    )
