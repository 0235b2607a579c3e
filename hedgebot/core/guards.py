"""Trading guards: whether one hedge order may be sent now, and the little state they need.

Owns `GuardLimits` (configured once), `GuardState` (recent sends, reject streaks, halts, kill
switch), `TradingState`, `GuardVerdict`, `check_order` and the pure updates of `GuardState`.
Pure: no I/O, no clock, no logging; the caller logs (`guard.refused`, `guard.halted`,
`guard.kill_switch`) and alerts. It must not size orders or compute deltas: it says yes or no,
and why, in a sentence that names the limit and the numbers.

Three kinds of "no":

* A throttle refuses this order only and clears by itself: stale data (trading of the underlying
  waits until data is fresh), the per-minute rates, REDUCING, the position limit.
* `halt_underlying=True` asks the caller to record a sticky halt of that underlying
  (`halt_underlying()`), lifted only by an operator (`resume`): a streak of rejects.
* `engage_kill_switch=True` asks the caller to stop everything (`engage_kill_switch()`) until an
  operator resumes: the hourly notional budget would be exceeded, which normal hedging never
  needs. `check_kill_switch` engages it on risk, never on profit: a net delta far beyond any band,
  or a margin account close to liquidation.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from hedgebot.model.trading import TradingState

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardLimits:
    """Limits of what hedgebot may send. Notional in USD, positions in coin of the underlying."""

    max_data_age_s: float
    """Older market or account data refuses every order of that underlying until it is fresh."""
    max_notional_per_minute_usd: float
    max_notional_per_hour_usd: float
    """Exceeding it engages the kill switch: normal hedging never needs that much."""
    max_orders_per_minute: int
    max_consecutive_rejects: int
    """This many rejects in a row on one underlying halt it until an operator resumes."""
    max_hedge_position: Mapping[str, float]
    """Largest absolute hedge position in coin by underlying; unlisted underlyings never trade."""
    max_abs_net_delta_usd: float
    """Kill switch: the book's net delta of any underlying, far beyond any hedging band."""
    max_maintenance_ratio: float
    """Kill switch: maintenance margin / equity of any account (liquidation starts at 1.0)."""

    def __post_init__(self) -> None:
        positive = {
            "max_data_age_s": self.max_data_age_s,
            "max_notional_per_minute_usd": self.max_notional_per_minute_usd,
            "max_notional_per_hour_usd": self.max_notional_per_hour_usd,
            "max_orders_per_minute": self.max_orders_per_minute,
            "max_consecutive_rejects": self.max_consecutive_rejects,
            "max_abs_net_delta_usd": self.max_abs_net_delta_usd,
            "max_maintenance_ratio": self.max_maintenance_ratio,
            **{f"max_hedge_position[{u}]": v for u, v in self.max_hedge_position.items()},
        }
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite positive number, not {value}")
        if self.max_notional_per_hour_usd < self.max_notional_per_minute_usd:
            raise ValueError("max_notional_per_hour_usd must be at least the per-minute limit")
        if self.max_maintenance_ratio > 1.0:
            raise ValueError("max_maintenance_ratio must be at most 1.0 (liquidation)")


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardState:
    """What the guards remember between orders. Replaced, never mutated."""

    recent_sends: tuple[tuple[int, float], ...] = ()
    """(timestamp_ms, notional_usd) of every order sent within the last hour."""
    send_totals: tuple[float, ...] = ()
    """Running sum of the notional of `recent_sends` up to each entry (kept by `record_send` and
    `prune_sends` while the sends are in time order), so a window's sum is one subtraction."""
    consecutive_rejects: Mapping[str, int] = field(default_factory=dict)
    """Rejects in a row, by underlying."""
    halted: Mapping[str, str] = field(default_factory=dict)
    """Underlyings halted until an operator resumes, with the reason."""
    kill_switch_reason: str | None = None
    """Set while the kill switch is engaged: every order is refused until an operator resumes."""

    @property
    def kill_switch_engaged(self) -> bool:
        """True until an operator resumes."""
        return self.kill_switch_reason is not None

    def sent_within(self, *, now_ms: int, window_ms: int) -> tuple[int, float]:
        """How many orders, and how much USD notional, were sent in the `window_ms` up to now."""
        sends, totals = self.recent_sends, self.send_totals
        if len(totals) != len(sends):  # built by hand, or out of time order: scan
            in_window = [notional for ts, notional in sends if now_ms - ts < window_ms]
            return len(in_window), math.fsum(in_window)
        start = bisect.bisect_right(sends, now_ms - window_ms, key=_timestamp)
        if start == len(sends):
            return 0, 0.0
        return len(sends) - start, totals[-1] - (totals[start - 1] if start else 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardVerdict:
    """Whether an order may be sent, why, and what the caller must record if not."""

    allowed: bool
    reason: str
    halt_underlying: bool = False
    engage_kill_switch: bool = False


# --- pure updates ---------------------------------------------------------------------------


def prune_sends(state: GuardState, *, now_ms: int) -> GuardState:
    """Forget sends older than an hour (the longest window any limit looks at)."""
    sends, totals = state.recent_sends, state.send_totals
    if len(totals) != len(sends):
        kept = tuple((ts, n) for ts, n in sends if now_ms - ts < HOUR_MS)
        return state if len(kept) == len(sends) else replace(state, recent_sends=kept)
    start = bisect.bisect_right(sends, now_ms - HOUR_MS, key=_timestamp)
    if start == 0:
        return state
    base = totals[start - 1]
    return replace(
        state,
        recent_sends=sends[start:],
        send_totals=tuple(total - base for total in totals[start:]),
    )


def record_send(state: GuardState, *, now_ms: int, notional_usd: float) -> GuardState:
    """Remember an order just sent, whatever the venue answers."""
    pruned = prune_sends(state, now_ms=now_ms)
    sends, totals = pruned.recent_sends, pruned.send_totals
    in_order = len(totals) == len(sends) and (not sends or sends[-1][0] <= now_ms)
    return replace(
        pruned,
        recent_sends=(*sends, (now_ms, notional_usd)),
        send_totals=(*totals, (totals[-1] if totals else 0.0) + notional_usd) if in_order else (),
    )


def _timestamp(send: tuple[int, float]) -> int:
    return send[0]


def forget_notional(state: GuardState, *, sent_ms: int, notional_usd: float) -> GuardState:
    """An order sent at `sent_ms` was refused before it reached the book (a rate limit: not
    placed): its notional no longer counts; the send itself still counts towards the order
    rate, so a create loop the venue keeps refusing is still limited."""
    sends = list(state.recent_sends)
    for index, (ts, notional) in enumerate(sends):
        if ts == sent_ms and notional == notional_usd:
            sends[index] = (ts, 0.0)
            totals = state.send_totals
            if len(totals) == len(sends):  # keep the running sums true from that entry on
                totals = (*totals[:index], *(total - notional for total in totals[index:]))
            return replace(state, recent_sends=tuple(sends), send_totals=totals)
    return state


def record_reject(state: GuardState, underlying: str) -> GuardState:
    """One more reject in a row on `underlying`."""
    streak = state.consecutive_rejects.get(underlying, 0) + 1
    return replace(state, consecutive_rejects={**state.consecutive_rejects, underlying: streak})


def record_accept(state: GuardState, underlying: str) -> GuardState:
    """The venue accepted an order on `underlying`: its reject streak starts again."""
    if underlying not in state.consecutive_rejects:
        return state
    rest = {u: n for u, n in state.consecutive_rejects.items() if u != underlying}
    return replace(state, consecutive_rejects=rest)


def halt_underlying(state: GuardState, underlying: str, reason: str) -> GuardState:
    """Stop trading `underlying` until an operator resumes; the first reason is kept."""
    if underlying in state.halted:
        return state
    return replace(state, halted={**state.halted, underlying: reason})


def engage_kill_switch(state: GuardState, reason: str) -> GuardState:
    """Stop all trading until an operator resumes; the first reason is kept."""
    if not reason:
        raise ValueError("the kill switch needs a reason")
    return state if state.kill_switch_engaged else replace(state, kill_switch_reason=reason)


def resume(state: GuardState, *, underlying: str | None = None) -> GuardState:
    """Operator action: lift the kill switch and every halt, or only the halt of `underlying`.

    Reject streaks of what is resumed start again; recent sends still count towards the rates.
    """
    if underlying is None:
        return replace(state, kill_switch_reason=None, halted={}, consecutive_rejects={})
    return replace(
        record_accept(state, underlying),
        halted={u: why for u, why in state.halted.items() if u != underlying},
    )


def check_kill_switch(
    limits: GuardLimits,
    state: GuardState,
    *,
    net_delta_usd_by_underlying: Mapping[str, float],
    maintenance_ratio_by_account: Mapping[str, float],
) -> GuardState:
    """Engage the kill switch if any risk limit is crossed (a value that is not finite crosses).

    Never disengages it: only `resume` does.
    """
    breaches = [
        *_breaches(net_delta_usd_by_underlying, limits.max_abs_net_delta_usd, "net delta", "USD"),
        *_breaches(
            maintenance_ratio_by_account, limits.max_maintenance_ratio, "maintenance ratio", ""
        ),
    ]
    if not breaches:
        return state
    return engage_kill_switch(state, "; ".join(breaches))


def _breaches(values: Mapping[str, float], limit: float, what: str, unit: str) -> list[str]:
    suffix = f" {unit}" if unit else ""
    return [
        f"{what} of {name} is {value:,.2f}{suffix}, beyond the {limit:,.2f}{suffix} limit"
        for name, value in sorted(values.items())
        if not abs(value) <= limit  # also true for NaN
    ]


# --- the order check ------------------------------------------------------------------------


def check_order(
    limits: GuardLimits,
    state: GuardState,
    *,
    now_ms: int,
    underlying: str,
    notional_usd: float,
    current_hedge_position: float,
    resulting_hedge_position: float,
    reduces_exposure: bool,
    market_age_s: float,
    account_age_s: float,
    trading_state: TradingState,
) -> GuardVerdict:
    """May this hedge order on `underlying` be sent now? The first guard that says no decides.

    Positions are the hedge position in coin before and after the order; ages are how old the
    newest market and account data of `underlying` are.
    """
    numbers = {
        "notional": notional_usd,
        "current hedge position": current_hedge_position,
        "resulting hedge position": resulting_hedge_position,
    }
    for name, value in numbers.items():
        if not math.isfinite(value):
            return _refuse(f"{underlying}: the order's {name} is {value}, not a finite number")
    if notional_usd < 0:
        return _refuse(f"{underlying}: the order's notional is {notional_usd} USD, below zero")
    return (
        _check_stops(limits, state, underlying=underlying, trading_state=trading_state)
        or _check_freshness(limits, underlying, market_age_s, account_age_s)
        or _check_direction(underlying, reduces_exposure, trading_state)
        or _check_position(limits, underlying, current_hedge_position, resulting_hedge_position)
        or _check_rates(limits, state, now_ms=now_ms, notional_usd=notional_usd)
        or GuardVerdict(
            allowed=True, reason=f"{underlying}: {notional_usd:,.2f} USD order passes every guard"
        )
    )


def _refuse(reason: str, *, halt: bool = False, kill: bool = False) -> GuardVerdict:
    return GuardVerdict(allowed=False, reason=reason, halt_underlying=halt, engage_kill_switch=kill)


def _check_stops(
    limits: GuardLimits, state: GuardState, *, underlying: str, trading_state: TradingState
) -> GuardVerdict | None:
    if state.kill_switch_reason is not None:
        return _refuse(f"kill switch engaged ({state.kill_switch_reason}); waiting for an operator")
    if trading_state is TradingState.HALTED:
        return _refuse(f"{underlying}: trading is HALTED")
    if underlying in state.halted:
        return _refuse(
            f"{underlying} is halted until an operator resumes: {state.halted[underlying]}"
        )
    streak = state.consecutive_rejects.get(underlying, 0)
    if streak >= limits.max_consecutive_rejects:
        return _refuse(
            f"{underlying}: {streak} consecutive rejects reached the limit of "
            f"{limits.max_consecutive_rejects}; halted until an operator resumes",
            halt=True,
        )
    return None


def _check_freshness(
    limits: GuardLimits, underlying: str, market_age_s: float, account_age_s: float
) -> GuardVerdict | None:
    for what, age in (("market", market_age_s), ("account", account_age_s)):
        if not age <= limits.max_data_age_s:  # also true for NaN
            return _refuse(
                f"{underlying}: {what} data is {age:.1f} s old, beyond the "
                f"{limits.max_data_age_s:.1f} s limit; no trading until it is fresh"
            )
    return None


def _check_direction(
    underlying: str, reduces_exposure: bool, trading_state: TradingState
) -> GuardVerdict | None:
    if trading_state is TradingState.REDUCING and not reduces_exposure:
        return _refuse(f"{underlying}: trading is REDUCING and this order does not reduce exposure")
    return None


def _check_position(
    limits: GuardLimits, underlying: str, current: float, resulting: float
) -> GuardVerdict | None:
    limit = limits.max_hedge_position.get(underlying)
    if limit is None:
        return _refuse(f"{underlying}: no hedge position limit is configured, so it never trades")
    towards_zero = current * resulting >= 0 and abs(resulting) < abs(current)
    if abs(resulting) > limit and not towards_zero:
        return _refuse(
            f"{underlying}: the hedge position would be {resulting:+,.6g} coin, beyond the "
            f"±{limit:,.6g} coin limit"
        )
    return None


def _check_rates(
    limits: GuardLimits, state: GuardState, *, now_ms: int, notional_usd: float
) -> GuardVerdict | None:
    _, hour_notional = state.sent_within(now_ms=now_ms, window_ms=HOUR_MS)
    if hour_notional + notional_usd > limits.max_notional_per_hour_usd:
        return _refuse(
            f"notional sent in the last hour would be {hour_notional + notional_usd:,.2f} USD, "
            f"beyond the {limits.max_notional_per_hour_usd:,.2f} USD limit; "
            "stopping everything until an operator resumes",
            kill=True,
        )
    minute_orders, minute_notional = state.sent_within(now_ms=now_ms, window_ms=MINUTE_MS)
    if minute_orders + 1 > limits.max_orders_per_minute:
        return _refuse(
            f"{minute_orders} orders were sent in the last minute; "
            f"the limit is {limits.max_orders_per_minute}"
        )
    if minute_notional + notional_usd > limits.max_notional_per_minute_usd:
        return _refuse(
            f"notional sent in the last minute would be {minute_notional + notional_usd:,.2f} "
            f"USD, beyond the {limits.max_notional_per_minute_usd:,.2f} USD limit"
        )
    return None
