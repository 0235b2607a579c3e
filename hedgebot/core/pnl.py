"""P&L attribution: what an option book and its hedge earned, and why. Pure and vectorised.

Owns the split of one interval's option P&L into the Taylor terms of docs/backtest.md
(delta·dS, ½·gamma·dS², theta·dt, vega·dσ and the residual that the expansion misses), the
accounting of a hedge (its P&L on the price move, fees, spread and slippage against the decision
price, funding) and `Attribution`, the running totals per underlying that the backtest reports.

Conventions (docs/conventions.md): prices in USD per coin, greeks from `hedgebot.core.greeks`
(vega per 1.00 of vol, theta in USD per year), time in ACT/365 years, P&L in USD, undiscounted.
Inputs broadcast like numpy; floats in, floats out.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from hedgebot.core.risk import OptionTotals

FloatArray = NDArray[np.float64]
_T = TypeVar("_T", float, FloatArray)


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionPnl:
    """One interval's option P&L split into greek terms; `total` is the revaluation change."""

    delta: float
    gamma: float
    theta: float
    vega: float
    residual: float

    @property
    def total(self) -> float:
        """The whole change of value (the terms add up to it exactly)."""
        return self.delta + self.gamma + self.theta + self.vega + self.residual


def explain_option_pnl(
    *,
    value_change: _T,
    delta: _T,
    gamma: _T,
    vega: _T,
    theta: _T,
    d_price: _T,
    d_vol: _T,
    dt_years: float,
) -> tuple[_T, _T, _T, _T, _T]:
    """(delta, gamma, theta, vega, residual) P&L of a book over one interval.

    Greeks are the book's at the start of the interval; the residual is whatever the second-order
    expansion misses (higher orders, vanna, volga, jumps), so the five terms sum to the change.
    """
    delta_pnl = delta * d_price
    gamma_pnl = 0.5 * gamma * d_price * d_price
    theta_pnl = theta * dt_years
    vega_pnl = vega * d_vol
    residual = value_change - delta_pnl - gamma_pnl - theta_pnl - vega_pnl
    return delta_pnl, gamma_pnl, theta_pnl, vega_pnl, residual


def slippage_bps(*, order_delta: float, decision_price: float, fill_price: float) -> float:
    """Slippage of a fill against the price at decision time, in bps; positive is a cost."""
    if decision_price <= 0:
        raise ValueError(f"decision price must be positive, got {decision_price}")
    side = 1.0 if order_delta > 0 else -1.0
    return side * (fill_price - decision_price) / decision_price * 10_000.0


def trading_cost(*, order_delta: _T, price: _T, cost_bps: float) -> _T:
    """Cost in USD of trading `order_delta` coin at `price` with a one-way cost in bps."""
    return abs(order_delta) * price * cost_bps / 10_000.0


def funding_paid(*, position: _T, price: _T, rate: float) -> _T:
    """Funding a perpetual position pays for one period at `rate` (longs pay when positive)."""
    return position * price * rate


@dataclass(slots=True, kw_only=True)
class Attribution:
    """Running P&L totals of one underlying's book and hedge, in USD."""

    option_delta: float = 0.0
    option_gamma: float = 0.0
    option_theta: float = 0.0
    option_vega: float = 0.0
    option_residual: float = 0.0
    static: float = 0.0
    """P&L of the book's other positions (dated futures, counted collateral)."""
    hedge: float = 0.0
    fees: float = 0.0
    spread_slippage: float = 0.0
    funding: float = 0.0
    financing: float = 0.0
    trades: int = 0
    slippage_bps_sum: float = field(default=0.0, repr=False)

    @property
    def option(self) -> float:
        """Option P&L (all five terms)."""
        return (
            self.option_delta
            + self.option_gamma
            + self.option_theta
            + self.option_vega
            + self.option_residual
        )

    @property
    def cost(self) -> float:
        """What hedging cost: fees, spread and slippage, funding."""
        return self.fees + self.spread_slippage + self.funding

    @property
    def total(self) -> float:
        """Hedged P&L: book, hedge and financing, less the cost of hedging."""
        return self.option + self.static + self.hedge + self.financing - self.cost

    def add_option(self, terms: tuple[float, float, float, float, float]) -> None:
        """Add one interval's (delta, gamma, theta, vega, residual) option P&L."""
        self.option_delta += terms[0]
        self.option_gamma += terms[1]
        self.option_theta += terms[2]
        self.option_vega += terms[3]
        self.option_residual += terms[4]

    def add_trade(self, *, fee: float, spread_slippage: float, slippage: float) -> None:
        """Add one hedge trade's fee and spread/slippage cost (USD) and its slippage (bps)."""
        self.fees += fee
        self.spread_slippage += spread_slippage
        self.slippage_bps_sum += slippage
        self.trades += 1

    def to_dict(self) -> dict[str, float]:
        """Every total, the derived ones too, rounded for display and JSON."""
        out = {f.name: float(getattr(self, f.name)) for f in fields(self)}
        out.pop("slippage_bps_sum")
        out["mean_slippage_bps"] = self.slippage_bps_sum / self.trades if self.trades else 0.0
        out.update(option=self.option, cost=self.cost, total=self.total)
        return {k: round(v, 6) for k, v in out.items()}


@dataclass(slots=True, kw_only=True)
class LiveAttribution:
    """The daemon's running P&L of one underlying, turn by turn and fill by fill, in USD.

    Between two turns, at the underlying's index price S and with the figures of the earlier
    turn: the options earn delta·dS, ½·gamma·dS², theta·dt and vega·dσ (σ the vega-weighted
    implied vol), and the residual is their revaluation change less those terms (higher orders,
    smile moves, expiries and option trades land there); the book's other positions (futures,
    counted collateral) earn their delta and convexity on dS; the hedge position earns
    position·dS. Each fill adds its fee (in USD at the fill price when paid in coin; a negative
    fee is a rebate) and its slippage: what filling away from the decision-time mark cost.
    Funding is not attributed live (the backtest does).
    """

    last_price: float | None = None
    last_ms: int = 0
    book_delta: float = 0.0
    book_gamma: float = 0.0
    hedge_position: float = 0.0
    options: OptionTotals = field(default_factory=OptionTotals)
    option_delta: float = 0.0
    option_gamma: float = 0.0
    option_theta: float = 0.0
    option_vega: float = 0.0
    option_residual: float = 0.0
    other: float = 0.0
    hedge: float = 0.0
    fees_usd: float = 0.0
    rebates_usd: float = 0.0
    slippage_usd: float = 0.0
    slippage_bps_sum: float = 0.0
    fills: int = 0

    def observe(
        self,
        *,
        now_ms: int,
        price: float,
        book_delta: float,
        gamma: float,
        hedge_position: float,
        options: OptionTotals,
    ) -> None:
        """One turn: index price, the book's delta (without the hedge) and gamma, the hedge
        position (coin) and the options' value and greeks."""
        if price <= 0:
            return
        if self.last_price is not None:
            move = price - self.last_price
            before = self.options
            delta, gamma_pnl, theta, vega, residual = explain_option_pnl(
                value_change=options.value - before.value,
                delta=before.delta,
                gamma=before.gamma,
                vega=before.vega * 100.0,
                theta=before.theta,
                d_price=move,
                d_vol=options.implied_vol - before.implied_vol,
                dt_years=(now_ms - self.last_ms) / (365.0 * 24 * 3600 * 1000),
            )
            self.option_delta += delta
            self.option_gamma += gamma_pnl
            self.option_theta += theta
            self.option_vega += vega
            self.option_residual += residual
            self.other += (self.book_delta - before.net_delta) * move + 0.5 * (
                self.book_gamma - before.net_gamma
            ) * move * move
            self.hedge += self.hedge_position * move
        self.last_price = price
        self.last_ms = now_ms
        self.book_delta = book_delta
        self.book_gamma = gamma
        self.hedge_position = hedge_position
        self.options = options

    def add_fill(self, *, fee_usd: float, slippage_usd: float, slippage: float) -> None:
        """One fill's fee (negative: rebate) and slippage in USD and bps."""
        if fee_usd >= 0:
            self.fees_usd += fee_usd
        else:
            self.rebates_usd -= fee_usd
        self.slippage_usd += slippage_usd
        self.slippage_bps_sum += slippage
        self.fills += 1

    @property
    def option(self) -> float:
        """Option P&L: all five terms."""
        return (
            self.option_delta
            + self.option_gamma
            + self.option_theta
            + self.option_vega
            + self.option_residual
        )

    @property
    def total(self) -> float:
        """Options, other positions and hedge, less fees and slippage, plus rebates."""
        costs = self.fees_usd - self.rebates_usd + self.slippage_usd
        return self.option + self.other + self.hedge - costs

    def to_dict(self) -> dict[str, float]:
        """The figures /status, the metrics and the run summary show."""
        figures = {
            "option_delta_usd": self.option_delta,
            "option_gamma_usd": self.option_gamma,
            "option_theta_usd": self.option_theta,
            "option_vega_usd": self.option_vega,
            "option_residual_usd": self.option_residual,
            "option_usd": self.option,
            "other_usd": self.other,
            "hedge_usd": self.hedge,
            "fees_usd": self.fees_usd,
            "rebates_usd": self.rebates_usd,
            "slippage_usd": self.slippage_usd,
            "mean_slippage_bps": self.slippage_bps_sum / self.fills if self.fills else 0.0,
            "total_usd": self.total,
        }
        return {k: round(v, 6) for k, v in figures.items()}
