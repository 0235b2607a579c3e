"""Risk: net delta, gamma and vega per underlying over every position of every account.

Pure: `assess` takes frozen account books, instruments and the latest quotes and returns a
`RiskReport`. Options are valued together through `hedgebot.greeks` (one vectorised call per
report); futures, perpetuals, spot and collateral through `hedgebot.units`. Every figure keeps
the table of contributions it was summed from, so an operator can trace it to positions.

Conventions (HEDGING.md):
* coin-settled options count their premium-adjusted delta Δ − V/F; linear options count Δ;
* where an account counts collateral, its coin equity (balance + unrealised P&L + option value,
  as the venue reports it) is delta too; the inverse-contract convexity then cancels against the
  equity's own sensitivity, so gamma is the pure option gamma; where collateral is not counted,
  inverse positions add their convexity (−N/F² for futures, −(Δ−V/F)/F per coin option).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from hedgebot.account import MarginState, Position
from hedgebot.greeks import black76
from hedgebot.instruments import Instrument, InstrumentKey, Kind, OptionType, years_between
from hedgebot.market import Quote
from hedgebot.units import futures_delta, futures_gamma


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountBook:
    """One account's positions and margin, and whether its coin collateral counts as delta."""

    account: str
    positions: tuple[Position, ...]
    collateral: Mapping[str, float] = field(default_factory=dict)
    margin: tuple[MarginState, ...] = ()
    count_collateral: bool = True


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
class UnderlyingRisk:
    """Aggregated risk of one underlying. Delta in coin, gamma coin/USD, vega USD per vol point."""

    underlying: str
    price: float
    net_delta: float
    gross_delta: float
    gamma: float
    vega: float
    contributions: tuple[Contribution, ...]
    missing: tuple[str, ...] = ()
    """Positions that could not be valued (no quote): the figures above are then incomplete."""

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


@dataclass(slots=True)
class _Sums:
    price: float = 0.0
    contributions: list[Contribution] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _OptionRows:
    rows: list[tuple[AccountBook, Position, Instrument, Quote]] = field(default_factory=list)


def assess(
    *,
    books: Sequence[AccountBook],
    instruments: Mapping[InstrumentKey, Instrument],
    quotes: Mapping[InstrumentKey, Quote],
    index_prices: Mapping[str, float],
    now_ms: int,
) -> RiskReport:
    """Net delta, gamma and vega per underlying, with the contributions they came from."""
    sums: dict[str, _Sums] = {u: _Sums(price=p) for u, p in index_prices.items()}
    options = _OptionRows()
    for book in books:
        for position in book.positions:
            _add_position(book, position, instruments, quotes, sums, options)
        if book.count_collateral:
            _add_collateral(book, sums)
    _add_options(options, sums, now_ms)
    return RiskReport(
        timestamp_ms=now_ms,
        underlyings={u: _aggregate(u, s) for u, s in sums.items()},
    )


def _add_position(
    book: AccountBook,
    position: Position,
    instruments: Mapping[InstrumentKey, Instrument],
    quotes: Mapping[InstrumentKey, Quote],
    sums: dict[str, _Sums],
    options: _OptionRows,
) -> None:
    instrument = instruments.get(position.key)
    if instrument is None:
        sums.setdefault("?", _Sums()).missing.append(f"{position.key} (unknown instrument)")
        return
    bucket = sums.setdefault(instrument.underlying, _Sums())
    quote = quotes.get(position.key)
    if quote is None:
        if position.amount != 0:
            bucket.missing.append(f"{position.key} (no quote)")
        return
    if instrument.kind is Kind.OPTION:
        options.rows.append((book, position, instrument, quote))
        return
    price = quote.mark_price
    gamma = 0.0
    if not (book.count_collateral and instrument.is_inverse):
        gamma = futures_gamma(instrument, position.amount, price)
    method = "USD face / mark" if instrument.amount_is_usd else "coin amount"
    bucket.contributions.append(
        Contribution(
            account=book.account,
            source=str(position.key),
            amount=position.amount,
            delta=futures_delta(instrument, position.amount, price),
            gamma=gamma,
            vega=0.0,
            method=method,
        )
    )


def _add_collateral(book: AccountBook, sums: dict[str, _Sums]) -> None:
    equity = {m.currency: m.equity for m in book.margin}
    for currency, balance in book.collateral.items():
        if currency not in sums:
            continue
        coins = equity.get(currency, balance)
        method = "coin equity (venue)" if currency in equity else "coin collateral"
        sums[currency].contributions.append(
            Contribution(
                account=book.account,
                source=f"{currency} collateral",
                amount=coins,
                delta=coins,
                gamma=0.0,
                vega=0.0,
                method=method,
            )
        )


def _add_options(options: _OptionRows, sums: dict[str, _Sums], now_ms: int) -> None:
    if not options.rows:
        return
    rows = options.rows
    forward = np.fromiter((q.underlying_price for *_, q in rows), np.float64, len(rows))
    strike = np.fromiter((i.strike or 0.0 for _, _, i, _ in rows), np.float64, len(rows))
    tau = np.fromiter(
        (years_between(now_ms, i.expiry_ms or now_ms) for _, _, i, _ in rows), np.float64, len(rows)
    )
    sigma = np.fromiter((q.mark_iv or 0.0 for *_, q in rows), np.float64, len(rows))
    is_call = np.fromiter((i.option_type is OptionType.CALL for _, _, i, _ in rows), bool, len(rows))
    greeks = black76(forward, strike, tau, sigma, is_call)
    coin_premium = greeks.price / forward
    for n, (book, position, instrument, _) in enumerate(rows):
        amount = position.amount
        delta = float(greeks.delta[n])
        gamma = float(greeks.gamma[n])
        method = "Black-76 delta (linear option)"
        if instrument.is_inverse:
            delta -= float(coin_premium[n])
            method = "premium-adjusted Black-76 delta (coin-settled)"
            if not book.count_collateral:
                gamma -= delta / float(forward[n])
        sums.setdefault(instrument.underlying, _Sums()).contributions.append(
            Contribution(
                account=book.account,
                source=str(position.key),
                amount=amount,
                delta=amount * delta,
                gamma=amount * gamma,
                vega=amount * float(greeks.vega[n]) / 100.0,
                method=method,
            )
        )


def _aggregate(underlying: str, sums: _Sums) -> UnderlyingRisk:
    contributions = tuple(sums.contributions)
    return UnderlyingRisk(
        underlying=underlying,
        price=sums.price if math.isfinite(sums.price) else 0.0,
        net_delta=math.fsum(c.delta for c in contributions),
        gross_delta=math.fsum(abs(c.delta) for c in contributions),
        gamma=math.fsum(c.gamma for c in contributions),
        vega=math.fsum(c.vega for c in contributions),
        contributions=contributions,
        missing=tuple(sums.missing),
    )
