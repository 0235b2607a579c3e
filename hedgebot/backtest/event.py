"""The event-driven engine: one path, one step at a time, through the daemon's own policy.

Owns `run_event`. At every step it builds the `PolicyInputs` the daemon's engine builds (net
delta including the hedge, gross delta, gamma, price, hedge position, the hedge instrument's lot
from `hedgebot.core.units.lot_in_coin`, the last hedge time) and calls
`hedgebot.core.policy.decide`, which sizes and rounds the order. A hedge fills at once at the
step's mid plus the half spread and impact; it then earns the price move to the next step and
pays funding. Any `BandRule` works here, so this engine is the reference the vectorised one is
tested against.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from hedgebot.backtest.book import BacktestBook, BookPaths
from hedgebot.backtest.outcome import CostModel, Outcome, band_share
from hedgebot.core.guards import (
    GuardLimits,
    GuardState,
    check_order,
    engage_kill_switch,
    record_send,
)
from hedgebot.core.policy import Action, HedgeRule, PolicyInputs, decide
from hedgebot.core.units import lot_in_coin
from hedgebot.model.trading import TradingState


def run_event(
    *,
    name: str,
    book: BacktestBook,
    paths: BookPaths,
    rule: HedgeRule,
    costs: CostModel,
    record: bool = False,
    guards: GuardLimits | None = None,
) -> Outcome:
    """Run `rule` over every path of `paths`, path after path; with `guards`, every hedge the
    policy decides must also pass `hedgebot.core.guards.check_order` (data is always fresh and
    trading active here, so the position, rate and notional limits and the kill switch act)."""
    n, steps = paths.market.paths, paths.market.steps
    columns = {k: np.zeros(n) for k in ("hedge", "fees", "spread", "funding", "dd", "position")}
    trades = np.zeros(n, dtype=np.int64)
    vetoes = np.zeros(n, dtype=np.int64)
    outside = np.zeros(n, dtype=np.int64)
    bands = np.zeros((n, steps))
    orders = np.zeros((n, steps)) if record else None
    funding_rate = costs.funding_per_step(paths.market.step_ms)
    for p in range(n):
        spot = paths.market.spot[p].tolist()
        delta = paths.delta[p].tolist()
        gross = paths.gross[p].tolist()
        gamma = paths.gamma[p].tolist()
        cumulative = paths.cumulative[p].tolist()
        position = hedge = fees = spread = funding = 0.0
        peak = worst = 0.0
        last_hedge_ms: int | None = None
        guard_state = GuardState()
        for t in range(steps):
            price = spot[t]
            now_ms = paths.market.start_ms + t * paths.market.step_ms
            inputs = PolicyInputs(
                underlying=book.underlying,
                now_ms=now_ms,
                net_delta=delta[t] + position,
                gross_delta=gross[t],
                gamma=gamma[t],
                price=price,
                hedge_position=position,
                lot=lot_in_coin(book.hedge, price),
                order_in_flight=False,
                last_hedge_ms=last_hedge_ms,
            )
            decision = decide(rule, inputs)
            if abs(decision.gap) > decision.band:
                outside[p] += 1
            bands[p, t] = decision.band
            if decision.action is Action.HEDGE and guards is not None:
                verdict = check_order(
                    guards,
                    guard_state,
                    now_ms=now_ms,
                    underlying=book.underlying,
                    notional_usd=abs(decision.order_delta) * price,
                    current_hedge_position=position,
                    resulting_hedge_position=position + decision.order_delta,
                    reduces_exposure=abs(inputs.net_delta + decision.order_delta)
                    < abs(inputs.net_delta),
                    market_age_s=0.0,
                    account_age_s=0.0,
                    trading_state=TradingState.ACTIVE,
                )
                if verdict.allowed:
                    guard_state = record_send(
                        guard_state, now_ms=now_ms, notional_usd=abs(decision.order_delta) * price
                    )
                else:
                    vetoes[p] += 1
                    if verdict.engage_kill_switch:
                        guard_state = engage_kill_switch(guard_state, verdict.reason)
                    decision = dataclasses.replace(decision, action=Action.HOLD, order_delta=0.0)
            if decision.action is Action.HEDGE:
                size = decision.order_delta
                position += size
                fees += abs(size) * price * costs.fee_bps / 10_000.0
                spread += abs(size) * price * costs.slippage_bps / 10_000.0
                last_hedge_ms = now_ms
                trades[p] += 1
                if orders is not None:
                    orders[p, t] = size
            hedge += position * (spot[t + 1] - price)
            funding += position * price * funding_rate
            running = cumulative[t + 1] + hedge - fees - spread - funding
            peak = max(peak, running)
            worst = max(worst, peak - running)
        for key, value in (
            ("hedge", hedge),
            ("fees", fees),
            ("spread", spread),
            ("funding", funding),
            ("dd", worst),
            ("position", position),
        ):
            columns[key][p] = value
    return Outcome(
        policy=name,
        hedge_pnl=columns["hedge"],
        fees=columns["fees"],
        spread_slippage=columns["spread"],
        funding=columns["funding"],
        trades=trades,
        outside_steps=outside,
        band_share=band_share(bands, paths.gross[:, :steps]),
        max_drawdown=columns["dd"],
        final_position=columns["position"],
        vetoes=vetoes,
        orders=orders,
    )
