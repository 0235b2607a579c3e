"""What an operator sees: a frozen view of the book after each hedge-loop turn.

Owns `TurnView` and its rows. The console table, `/status`, metrics and the run summary all read
this one value, so they always agree. It must not compute risk: the engine fills it in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hedgebot.model.trading import ReasonCode, TradingOrigin, TradingState, UnderlyingStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderlyingView:
    """One underlying after a turn. Deltas in coin."""

    underlying: str
    price: float
    net_delta: float
    """Delta of the positions the venue reports (what the book carries now)."""
    delta_with_in_flight: float
    target: float
    band: float
    gamma: float
    vega: float
    hedge_instrument: str
    hedge_orders: int
    fills: int
    decision: str
    """The policy's reason, for the operator to read (`decision_code` says it for code)."""
    trading: str
    """"active", or why this underlying does not trade now, for the operator to read."""
    decision_code: ReasonCode
    """Why the policy decided what it did, as a code."""
    status: UnderlyingStatus
    """Whether this underlying trades now, or the kind of reason it does not."""
    hedge_position: float = 0.0
    """The hedge instrument's position as the venue reports it, in `hedge_position_unit`."""
    hedge_position_unit: str = "coin"
    """"coin" or "USD face" (inverse contracts)."""
    hedge_position_coin: float = 0.0
    """The same position as coin delta."""
    fees_usd: float = 0.0
    """Fees paid on hedge fills since start, USD at each fill's price."""
    rebates_usd: float = 0.0
    """Rebates earned on hedge fills since start, USD at each fill's price (positive)."""
    pnl: Mapping[str, float] = field(default_factory=dict)
    """Live P&L attribution in USD (`hedgebot.core.pnl.LiveAttribution.to_dict`)."""
    basis_bps: float | None = None
    """The hedge's mark over the index of another venue, in basis points (cross-venue hedges
    only, `hedgebot.core.basis`)."""

    @property
    def outside_band(self) -> bool:
        """True when the carried delta is outside the band."""
        return abs(self.net_delta - self.target) > self.band


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountView:
    """Margin of one account, per margin currency."""

    account: str
    venue: str
    currency: str
    equity: float
    initial_margin: float
    maintenance_margin: float
    available: float
    maintenance_ratio: float
    data_age_s: float
    stress_ratio: float | None = None
    """MM/equity under the configured stress scenario (`hedgebot.core.stress`), if computed."""
    top_up: float | None = None
    """Collateral, in `currency`, that restores the stress target ratio; `top_up_usd` in USD."""
    top_up_usd: float | None = None
    stress_scenario: str = ""


@dataclass(frozen=True, slots=True)
class TradingDetail:
    """The trading state as the operator sees it: why, decided by whom, since when."""

    state: TradingState
    reason: str
    origin: TradingOrigin
    since_ms: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnView:
    """The book after one turn of the hedge loop."""

    now_ms: int
    mode: str
    trading_state: TradingState
    underlyings: Mapping[str, UnderlyingView]
    accounts: tuple[AccountView, ...]
    decision_latency_s: float
    trading_reason: str = ""
    """Why trading is in this state (empty while active since start-up)."""
    trading_origin: TradingOrigin = TradingOrigin.START
    """Who decided it."""
    trading_since_ms: int | None = None
    """When it entered this state (None: since start-up)."""

    def to_dict(self) -> dict[str, object]:
        """JSON-able form (used by /status)."""
        return {
            "now_ms": self.now_ms,
            "mode": self.mode,
            "trading_state": self.trading_state.value,
            "trading_reason": self.trading_reason,
            "trading_origin": self.trading_origin.value,
            "trading_since_ms": self.trading_since_ms,
            "decision_latency_ms": self.decision_latency_s * 1000,
            "underlyings": {
                name: {
                    "price": u.price,
                    "net_delta": u.net_delta,
                    "delta_with_in_flight": u.delta_with_in_flight,
                    "target": u.target,
                    "band": u.band,
                    "gamma": u.gamma,
                    "vega": u.vega,
                    "hedge_instrument": u.hedge_instrument,
                    "hedge_orders": u.hedge_orders,
                    "fills": u.fills,
                    "decision": u.decision,
                    "decision_code": u.decision_code.value,
                    "trading": u.trading,
                    "status": u.status.value,
                    "outside_band": u.outside_band,
                    "hedge_position": u.hedge_position,
                    "hedge_position_unit": u.hedge_position_unit,
                    "hedge_position_coin": u.hedge_position_coin,
                    "fees_usd": u.fees_usd,
                    "rebates_usd": u.rebates_usd,
                    "pnl": dict(u.pnl),
                    "basis_bps": u.basis_bps,
                }
                for name, u in self.underlyings.items()
            },
            "accounts": [
                {
                    "account": a.account,
                    "venue": a.venue,
                    "currency": a.currency,
                    "equity": a.equity,
                    "initial_margin": a.initial_margin,
                    "maintenance_margin": a.maintenance_margin,
                    "available": a.available,
                    "maintenance_ratio": a.maintenance_ratio,
                    "data_age_s": a.data_age_s,
                    "stress_ratio": a.stress_ratio,
                    "top_up": a.top_up,
                    "top_up_usd": a.top_up_usd,
                    "stress_scenario": a.stress_scenario,
                }
                for a in self.accounts
            ],
        }
