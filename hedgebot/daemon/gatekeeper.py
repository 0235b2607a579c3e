"""The gatekeeper: the stateful shell around the pure guards and the trading state.

Owns the `GuardState` between turns, the trading state (ACTIVE, REDUCING on thin margin, HALTED
by an operator or the kill switch) and the journal/alert side effects of its changes. Every
"may I send this hedge?" goes through `veto`; every rule lives in `hedgebot.core.guards`. It
hears order outcomes as typed events (`on_event`: `OrderAccepted`, `OrderRejected`) and tells
its own changes as typed events (`GuardHalted`, `KillSwitchEngaged`, `TradingStateChanged`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import structlog

from hedgebot.core import guards
from hedgebot.core.guards import GuardLimits, GuardState
from hedgebot.core.headroom import breaches_floor
from hedgebot.core.risk import RiskReport
from hedgebot.daemon.engine import OrderCheck
from hedgebot.model import events
from hedgebot.model.trading import TradingOrigin, TradingState
from hedgebot.model.view import AccountView, TradingDetail

log = structlog.get_logger("hedgebot.daemon.gatekeeper")

REFUSAL_SUMMARY_MS = 60_000
"""Repeated refusals of one hedge are summarised this often (clock time) instead of per turn."""


class Gatekeeper:
    """Decides, with the guards, whether each hedge may be sent; tracks the trading state."""

    def __init__(
        self,
        *,
        limits: GuardLimits,
        reducing_ratio: float,
        notify: events.EventSink,
        min_available_ratio: float = 0.0,
        hedge_im_rate: float = 0.02,
    ) -> None:
        self._limits = limits
        self._reducing_ratio = reducing_ratio
        self._min_available_ratio = min_available_ratio
        self._hedge_im_rate = hedge_im_rate
        self._notify = notify
        self._state = GuardState()
        self._operator_halt: str | None = None
        self._trading = TradingState.ACTIVE
        self._detail = TradingDetail(
            state=TradingState.ACTIVE, reason="", origin=TradingOrigin.START
        )
        self._refusing: dict[str, str] = {}
        self._repeats: dict[tuple[str, str], int] = {}
        self._summary_due_ms: int | None = None

    @property
    def trading_state(self) -> TradingState:
        """The current trading state."""
        return self._trading

    @property
    def trading_detail(self) -> TradingDetail:
        """The current trading state with why, who decided it and since when."""
        return self._detail

    @property
    def guard_state(self) -> GuardState:
        """What the guards remember (for status)."""
        return self._state

    def veto(self, check: OrderCheck) -> str | None:
        """Why this hedge may not be sent now, or None."""
        current = check.hedge_position
        resulting = current + check.order_delta
        after = check.net_delta + check.order_delta
        verdict = guards.check_order(
            self._limits,
            guards.prune_sends(self._state, now_ms=check.now_ms),
            now_ms=check.now_ms,
            underlying=check.leg.underlying,
            notional_usd=abs(check.order_delta) * check.price,
            current_hedge_position=current,
            resulting_hedge_position=resulting,
            reduces_exposure=abs(after) < abs(check.net_delta),
            market_age_s=check.market_age_s,
            account_age_s=check.account_age_s,
            trading_state=self._trading,
        )
        if verdict.allowed:
            refused = self._margin_veto(check, current, resulting)
            if refused is None:
                self._refusing.pop(check.leg.underlying, None)
            else:
                self._refused(check.leg.underlying, refused, check.now_ms, margin=True)
            return refused
        if verdict.halt_underlying and check.leg.underlying not in self._state.halted:
            self._state = guards.halt_underlying(self._state, check.leg.underlying, verdict.reason)
            self._notify(events.GuardHalted(underlying=check.leg.underlying, reason=verdict.reason))
        if verdict.engage_kill_switch and not self._state.kill_switch_engaged:
            self._state = guards.engage_kill_switch(self._state, verdict.reason)
            self._notify(events.KillSwitchEngaged(reason=verdict.reason))
        self._refused(check.leg.underlying, verdict.reason, check.now_ms)
        return verdict.reason

    def _refused(self, underlying: str, reason: str, now_ms: int, *, margin: bool = False) -> None:
        """Log a refusal once when it starts; repeats are counted and summarised every
        `REFUSAL_SUMMARY_MS` of clock time (`guard.refusals`), not logged per turn."""
        if self._refusing.get(underlying) != reason:
            self._refusing[underlying] = reason
            event = "guard.margin_floor" if margin else "guard.refused"
            log.warning(event, underlying=underlying, reason=reason)
        else:
            key = (underlying, reason)
            self._repeats[key] = self._repeats.get(key, 0) + 1
        if self._summary_due_ms is None:
            self._summary_due_ms = now_ms + REFUSAL_SUMMARY_MS
        elif now_ms >= self._summary_due_ms:
            if self._repeats:
                log.warning(
                    "guard.refusals",
                    period_s=REFUSAL_SUMMARY_MS // 1000,
                    repeats={f"{u}: {r}": n for (u, r), n in sorted(self._repeats.items())},
                )
            self._repeats.clear()
            self._summary_due_ms = now_ms + REFUSAL_SUMMARY_MS

    def _margin_veto(self, check: OrderCheck, current: float, resulting: float) -> str | None:
        """Project the account's initial margin after the hedge; refuse one that would leave
        too little equity free, unless it shrinks the hedge position."""
        margin = check.margin
        if margin is None or self._min_available_ratio <= 0:
            return None
        coin_margined = margin.currency == check.leg.underlying
        notional = abs(check.order_delta) * (1.0 if coin_margined else check.price)
        shrinks = abs(resulting) < abs(current)
        if not breaches_floor(
            margin,
            order_notional_coin=notional,
            im_rate=self._hedge_im_rate,
            min_available_ratio=self._min_available_ratio,
            reduces_risk=shrinks,
        ):
            return None
        return (
            f"{check.leg.underlying}: after this hedge less than {self._min_available_ratio:.0%} "
            f"of {margin.currency} equity would be free of initial margin"
        )

    def sent(self, check: OrderCheck) -> None:
        """Count an order towards the rate and notional limits."""
        self._state = guards.record_send(
            guards.prune_sends(self._state, now_ms=check.now_ms),
            now_ms=check.now_ms,
            notional_usd=abs(check.order_delta) * check.price,
        )

    def unsent(self, check: OrderCheck) -> None:
        """The order was refused before it was placed: its notional stops counting."""
        self._state = guards.forget_notional(
            self._state, sent_ms=check.now_ms, notional_usd=abs(check.order_delta) * check.price
        )

    def on_event(self, event: events.DaemonEvent) -> None:
        """An order outcome from the executor: a venue reject extends the underlying's streak,
        an accepted order ends it. Other events do not concern the gatekeeper."""
        match event:
            case events.OrderRejected(underlying=underlying):
                self._state = guards.record_reject(self._state, underlying)
            case events.OrderAccepted(underlying=underlying):
                self._state = guards.record_accept(self._state, underlying)
            case _:
                pass

    def after_turn(
        self, risk: RiskReport, accounts: Sequence[AccountView], now_ms: int
    ) -> TradingState:
        """Engage the kill switch on risk; move between ACTIVE, REDUCING and HALTED."""
        ratios: dict[str, float] = {}
        for account in accounts:
            key = f"{account.account}/{account.currency}"
            ratios[key] = account.maintenance_ratio
        deltas = {u: r.net_delta_usd for u, r in risk.underlyings.items() if r.complete}
        before = self._state.kill_switch_engaged
        self._state = guards.check_kill_switch(
            self._limits,
            self._state,
            net_delta_usd_by_underlying=deltas,
            maintenance_ratio_by_account=ratios,
        )
        if self._state.kill_switch_engaged and not before:
            self._notify(events.KillSwitchEngaged(reason=self._state.kill_switch_reason or ""))
        worst = max((r for r in ratios.values() if math.isfinite(r)), default=0.0)
        if self._operator_halt is not None or self._state.kill_switch_engaged:
            wanted = TradingState.HALTED
        elif worst >= self._reducing_ratio:
            wanted = TradingState.REDUCING
        else:
            wanted = TradingState.ACTIVE
        if wanted is not self._trading:
            if self._operator_halt is not None:
                reason, origin = self._operator_halt, TradingOrigin.OPERATOR
            elif self._state.kill_switch_engaged:
                reason, origin = self._state.kill_switch_reason or "", TradingOrigin.KILL_SWITCH
            elif wanted is TradingState.ACTIVE and self._trading is TradingState.HALTED:
                reason, origin = "resumed", TradingOrigin.OPERATOR
            else:
                reason = (
                    f"worst MM/equity {worst:.1%} against the {self._reducing_ratio:.0%} threshold"
                )
                origin = TradingOrigin.MARGIN
            self._notify(
                events.TradingStateChanged(
                    before=self._trading, after=wanted, reason=reason, origin=origin
                )
            )
            self._trading = wanted
            self._detail = TradingDetail(
                state=wanted, reason=reason, origin=origin, since_ms=now_ms
            )
        return self._trading

    def halt(self, reason: str) -> None:
        """Operator: stop all trading until resumed."""
        self._operator_halt = reason or "halted by operator"

    def resume(self) -> None:
        """Operator: lift the operator halt, the kill switch and every underlying halt."""
        self._operator_halt = None
        self._state = guards.resume(self._state)

    def restore_kill_switch(self, reason: str) -> None:
        """Start-up: the kill switch a previous run engaged (journaled) holds again."""
        self._state = guards.engage_kill_switch(self._state, reason or "restored from journal")

    def restore_reducing(self, reason: str, *, since_ms: int) -> None:
        """Start-up: REDUCING a previous run journaled holds until a turn on fresh margin
        figures says otherwise (only orders that reduce exposure go out before that)."""
        if self._trading is TradingState.ACTIVE:
            self._trading = TradingState.REDUCING
            self._detail = TradingDetail(
                state=TradingState.REDUCING,
                reason=f"restored from the journal: {reason}",
                origin=TradingOrigin.MARGIN,
                since_ms=since_ms,
            )

    def restore_underlying_halt(self, underlying: str, reason: str) -> None:
        """Start-up: an underlying halt a previous run journaled holds again."""
        self._state = guards.halt_underlying(self._state, underlying, reason)
