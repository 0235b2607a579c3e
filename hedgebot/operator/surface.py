"""The operator surface of a running daemon: metrics, alerts, systemd notifications, and the
`OperatorView` the HTTP endpoint serves (health, readiness, status, halt/resume/flatten).

Owns the mapping from daemon events (`hedgebot.model.events`, keyed by `DaemonEventKind`: every
kind opens an alert, resolves one, or is listed as alerting nothing) to alerts (keys as in
docs/operator.md), margin alerts
with hysteresis per account and currency, stale-data and disconnection alerts, and the systemd
watchdog ping from a healthy loop turn. Every call here returns at once: alert delivery runs in
the dispatcher's own task, so the hedge loop never waits on a channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog

from hedgebot.config import Settings
from hedgebot.core.margin_alerts import (
    MarginAlertState,
    MarginThresholds,
    TopUp,
    alert_ratio,
    margin_alert,
    step,
)
from hedgebot.daemon.state import BookState
from hedgebot.model import events
from hedgebot.model.alerts import Alert, Severity
from hedgebot.model.events import DaemonEventKind
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.trading import TradingState, UnderlyingStatus
from hedgebot.model.view import AccountView, TurnView
from hedgebot.operator import sd_notify
from hedgebot.operator.alerts import AlertDispatcher
from hedgebot.operator.http_api import HealthReport, ReadinessReport
from hedgebot.operator.metrics import Metrics

log = structlog.get_logger("hedgebot.operator")

_EVENT_ALERTS: Mapping[DaemonEventKind, tuple[str, Severity, str]] = {
    DaemonEventKind.DAEMON_STARTED: ("lifecycle.startup", Severity.INFO, "hedgebot started"),
    DaemonEventKind.DAEMON_STOPPED: ("lifecycle.shutdown", Severity.INFO, "hedgebot stopped"),
    DaemonEventKind.ORDER_REJECTED: (
        "order.rejected.{underlying}",
        Severity.WARNING,
        "Hedge order rejected",
    ),
    DaemonEventKind.ORDER_UNKNOWN: (
        "order.unknown.{underlying}",
        Severity.WARNING,
        "Hedge order outcome unknown",
    ),
    DaemonEventKind.ORDER_LOST: (
        "order.unknown.{underlying}",
        Severity.CRITICAL,
        "Hedge order lost",
    ),
    DaemonEventKind.ORDER_LATE_FILL: (
        "order.late_fill.{underlying}",
        Severity.INFO,
        "Late fill applied",
    ),
    DaemonEventKind.ORDER_UNRESOLVED: (
        "order.unknown.{underlying}",
        Severity.CRITICAL,
        "Hedge order unresolved: instrument halted",
    ),
    DaemonEventKind.GUARD_HALTED: (
        "hedge.failing.{underlying}",
        Severity.CRITICAL,
        "Underlying halted",
    ),
    DaemonEventKind.KILL_SWITCH: ("trading.state", Severity.CRITICAL, "Kill switch engaged"),
    DaemonEventKind.TRADING_STATE_CHANGED: (
        "trading.state",
        Severity.WARNING,
        "Trading state changed",
    ),
    DaemonEventKind.MARKET_BAD_DATA: (
        "feed.bad_data.{source}",
        Severity.WARNING,
        "Bad market data held",
    ),
    DaemonEventKind.RISK_UNVALUED: (
        "risk.unvalued.{underlying}",
        Severity.WARNING,
        "Book cannot be valued",
    ),
    DaemonEventKind.DAEMON_FAILED: (
        "lifecycle.failed",
        Severity.CRITICAL,
        "hedgebot stopped on a failure",
    ),
    DaemonEventKind.TASK_DIED: ("lifecycle.failed", Severity.CRITICAL, "A hedgebot task died"),
    DaemonEventKind.FENCE_FOREIGN_HEDGER: (
        "fence.{instrument}",
        Severity.CRITICAL,
        "Another hedger trades this instrument",
    ),
    DaemonEventKind.TRADING_RESTORED: (
        "trading.state",
        Severity.WARNING,
        "Halts restored from the journal",
    ),
    DaemonEventKind.VEGA_LIMIT_EXCEEDED: (
        "vega.limit.{underlying}",
        Severity.WARNING,
        "Vega of an expiry beyond its limit",
    ),
    DaemonEventKind.GREEKS_DIVERGENCE: (
        "greeks.divergence.{underlying}",
        Severity.WARNING,
        "Our deltas disagree with the venue's",
    ),
}
"""Event kind -> (alert key, severity, title) of the alerts events open (or just report)."""

_RESOLVING_EVENTS: Mapping[DaemonEventKind, tuple[str, str]] = {
    DaemonEventKind.ORDER_ACCEPTED: ("order.rejected.{underlying}", "Hedge orders accepted again"),
    DaemonEventKind.ORDER_FOUND: ("order.unknown.{underlying}", "Hedge order found by client id"),
    DaemonEventKind.ORDER_NOT_PLACED: (
        "order.unknown.{underlying}",
        "Hedge order never reached the venue: nothing in flight",
    ),
    DaemonEventKind.MARKET_BAD_DATA_CLEARED: ("feed.bad_data.{source}", "Market data sane"),
    DaemonEventKind.RISK_VALUED: ("risk.unvalued.{underlying}", "Book valued again"),
    DaemonEventKind.GREEKS_AGREED: (
        "greeks.divergence.{underlying}",
        "Our deltas agree with the venue's again",
    ),
    DaemonEventKind.VEGA_LIMIT_CLEARED: ("vega.limit.{underlying}", "Vega back within its limit"),
}
"""Event kind -> (alert key, title) of the RESOLVED it sends when that key is open."""

SILENT_EVENTS: frozenset[DaemonEventKind] = frozenset(
    {
        DaemonEventKind.OPERATOR_HALT,  # alerted as trading.state_changed on the next turn
        DaemonEventKind.OPERATOR_RESUME,  # resolves the RESOLVED_BY_RESUME keys (below)
        DaemonEventKind.HEDGES_FLATTENED,  # the operator asked for it; logged and journaled
    }
)
"""Event kinds that open and resolve no alert of their own (logged and journaled only)."""

RESOLVED_BY_RESUME: tuple[str, ...] = ("hedge.failing.", "order.unknown.", "fence.")
"""Open alerts whose keys start so are resolved by an operator resume (trading.state resolves
when the state is back to active)."""

CONDITION_ALERT_KEYS: tuple[str, ...] = (
    "margin.{account}/{currency}",
    "feed.stale.{source}",
    "venue.disconnected.{venue}",
)
"""Alerts the surface raises and resolves itself from each turn's figures."""


ONE_SHOT_KEYS: tuple[str, ...] = ("lifecycle.failed",)
"""Alerts about the process's own end (a task died, the journal failed): the process exits, so
nothing is left to resolve them; the restarted process's `lifecycle.startup` says it runs again."""


def alert_keys() -> frozenset[str]:
    """Every alert key template hedgebot can send (the runbook documents each)."""
    events = {key for key, _, _ in _EVENT_ALERTS.values()}
    return frozenset(events | {key for key, _ in _RESOLVING_EVENTS.values()}).union(
        CONDITION_ALERT_KEYS
    )


def unmapped_event_kinds() -> frozenset[DaemonEventKind]:
    """Event kinds the surface neither alerts on, resolves by, nor lists as silent: must be
    empty, so a new kind cannot be added without deciding what the operator hears of it."""
    mapped = set(_EVENT_ALERTS) | set(_RESOLVING_EVENTS) | SILENT_EVENTS
    return frozenset(DaemonEventKind) - mapped


def unresolvable_keys() -> frozenset[str]:
    """Key templates that open (WARNING/CRITICAL) with no way to be RESOLVED: must be empty."""
    opening = {
        key
        for key, severity, _ in _EVENT_ALERTS.values()
        if severity in (Severity.WARNING, Severity.CRITICAL)
    }
    resolvable = {key for key, _ in _RESOLVING_EVENTS.values()} | {"trading.state"}
    return frozenset(
        key
        for key in opening
        if key not in resolvable
        and not key.startswith(RESOLVED_BY_RESUME)
        and key not in ONE_SHOT_KEYS
    )


STATUS_MIN_INTERVAL_S = 10.0
"""systemd's STATUS= line: sent at once when the trading state or the set of underlyings outside
their band changes, else at most this often while its figures move."""


def status_line(view: TurnView) -> str:
    """One line for `systemctl status`: trading state (with why), each underlying's net delta
    against its band in coin, and the worst margin ratio."""
    state = view.trading_state.upper()
    if view.trading_reason and view.trading_state is not TradingState.ACTIVE:
        state += f" ({view.trading_origin}: {view.trading_reason})"
    parts = [state]
    rows = []
    for name, row in view.underlyings.items():
        if row.price <= 0:
            rows.append(f"{name} unvalued")
            continue
        flag = " OUTSIDE" if row.outside_band else ""
        rows.append(f"{name} {row.net_delta:+.3f}/±{row.band:.3f} coin{flag}")
    if rows:
        parts.append(", ".join(rows))
    at_risk = [a for a in view.accounts if a.maintenance_margin > 0]  # empty lines read inf
    if at_risk:
        worst = max(at_risk, key=lambda a: a.maintenance_ratio)
        parts.append(f"MM/equity {worst.maintenance_ratio:.1%} ({worst.account}/{worst.currency})")
    return " | ".join(parts)


class _Fields(dict[str, str]):
    """Event details for an alert key template; a missing name reads as "?"."""

    def __missing__(self, name: str) -> str:
        return "?"


def _body(fields: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(fields.items()))


class OperatorSurface:
    """A `TurnObserver` and the HTTP `OperatorView` of one daemon."""

    def __init__(
        self,
        *,
        settings: Settings,
        state: BookState,
        metrics: Metrics,
        alerts: AlertDispatcher,
        halt: Callable[[str], None],
        resume: Callable[[], None],
        flatten: Callable[[], str],
    ) -> None:
        self._settings = settings
        self._state = state
        self.metrics = metrics
        self.alerts = alerts
        self._halt, self._resume, self._flatten = halt, resume, flatten
        margin = settings.margin
        self._thresholds = MarginThresholds(
            warning=margin.warning_ratio, critical=margin.critical_ratio, gap=margin.hysteresis
        )
        self._margin: dict[str, MarginAlertState] = {}
        self._stale: set[str] = set()
        self._counts: dict[tuple[str, str], int] = {}
        self._fees_seen: dict[str, tuple[float, float]] = {}
        self._open: set[str] = set()
        self._status_sent: tuple[str, str] | None = None
        self._status_next = 0.0
        metrics.declare(underlyings=settings.hedges, venues=settings.venues)
        self._reconnects: dict[str, int] = {}
        self._view: TurnView | None = None
        self._last_turn_monotonic: float | None = None
        self._watchdog_every = sd_notify.watchdog_interval_s()
        self._next_watchdog = 0.0
        self.started = False

    # --- engine side ----------------------------------------------------------------------

    def on_event(self, event: events.DaemonEvent) -> None:
        """Turn a daemon event into an alert (and a metric where there is one); events that
        end a condition resolve its open alert. `DaemonStarted` (the start-up gates passed)
        releases systemd's READY."""
        match event:
            case events.OrderRejected(underlying=underlying):
                self.metrics.record_reject(underlying)
            case events.DaemonStarted():
                self.started = True
                sd_notify.ready()
            case _:
                pass
        kind = event.kind
        fields = _Fields({k: str(v) for k, v in event.detail().items()})
        if kind is DaemonEventKind.OPERATOR_RESUME:
            for key in sorted(k for k in self._open if k.startswith(RESOLVED_BY_RESUME)):
                self._resolve(key, "Resumed by the operator", fields)
        resolving = _RESOLVING_EVENTS.get(kind)
        if resolving is not None:
            self._resolve(resolving[0].format_map(fields), resolving[1], fields)
        spec = _EVENT_ALERTS.get(kind)
        if spec is None:
            return
        key, severity, title = spec
        key = key.format_map(fields)
        if isinstance(event, events.TradingStateChanged) and event.after is TradingState.ACTIVE:
            self._resolve(key, "Trading active again", fields)
            return
        if severity in (Severity.WARNING, Severity.CRITICAL):
            self._open.add(key)
        self.alerts.submit(
            Alert(key=key, severity=severity, title=title, body=_body(fields), fields=dict(fields))
        )

    def _resolve(self, key: str, title: str, fields: Mapping[str, str]) -> None:
        if key not in self._open:
            return
        self._open.discard(key)
        self.alerts.submit(
            Alert(
                key=key,
                severity=Severity.RESOLVED,
                title=title,
                body=_body(fields),
                fields=dict(fields),
            )
        )

    def on_turn(self, view: TurnView) -> None:
        """Metrics, margin and staleness alerts, and the watchdog, once per turn."""
        self._view = view
        self._last_turn_monotonic = time.monotonic()
        metrics = self.metrics
        metrics.observe_decision_latency(view.decision_latency_s)
        metrics.record_trading_state(view.trading_state)
        for name, row in view.underlyings.items():
            metrics.record_underlying(
                name,
                net_delta=row.net_delta,
                target=row.target,
                band=row.band,
                price=row.price,
                gamma=row.gamma,
                vega=row.vega,
            )
            self._count(name, "orders", row.hedge_orders, metrics.record_order)
            self._count(name, "fills", row.fills, metrics.record_fill_count)
            paid, earned = self._fees_seen.get(name, (0.0, 0.0))
            metrics.record_fees(
                name, fees_usd=row.fees_usd - paid, rebates_usd=row.rebates_usd - earned
            )
            self._fees_seen[name] = (max(paid, row.fees_usd), max(earned, row.rebates_usd))
            metrics.record_pnl(name, row.pnl)
            age = self._state.quote_age_s(self._hedge_key(name))
            metrics.record_data_age(f"{name}.hedge_quote", min(age, 1e9))
            self._staleness(f"{name}.market", age)
        for account in view.accounts:
            line = f"{account.account}/{account.currency}"
            metrics.record_headroom(
                line,
                maintenance_ratio=account.maintenance_ratio,
                available=account.available,
                equity=account.equity,
                stress_ratio=account.stress_ratio,
                top_up=account.top_up,
                top_up_usd=account.top_up_usd,
            )
            metrics.record_data_age(f"{account.account}.account", account.data_age_s)
            self._staleness(f"{account.account}.account", account.data_age_s)
            self._margin_step(line, account)
        for venue, health in self._state.feeds.items():
            seen = self._reconnects.get(venue, 0)
            for _ in range(health.reconnects - seen):
                metrics.record_reconnect(venue)
            self._reconnects[venue] = health.reconnects
            down_s = 0.0 if health.connected else (view.now_ms - health.since_ms) / 1000
            self._disconnection(venue, down_s, health.reason)
        self._ping_watchdog()
        self._systemd_status(view)

    def _systemd_status(self, view: TurnView) -> None:
        shape = view.trading_state + "".join(
            name for name, row in view.underlyings.items() if row.outside_band
        )
        line = status_line(view)
        now = time.monotonic()
        sent = self._status_sent
        if sent is not None and (sent[1] == line or (sent[0] == shape and now < self._status_next)):
            return
        sd_notify.status(line)
        self._status_sent = (shape, line)
        self._status_next = now + STATUS_MIN_INTERVAL_S

    def _hedge_key(self, underlying: str) -> InstrumentKey:
        hedge = self._settings.hedges[underlying]
        return InstrumentKey(self._settings.accounts[hedge.account].venue, hedge.instrument)

    def _count(self, underlying: str, what: str, total: int, record: Callable[[str], None]) -> None:
        seen = self._counts.get((underlying, what), 0)
        for _ in range(max(0, total - seen)):
            record(underlying)
        self._counts[underlying, what] = total

    def _margin_step(self, line: str, account: AccountView) -> None:
        """Alert levels on the worse of today's and the stressed MM/equity, with the top-up."""
        state = self._margin.get(line) or MarginAlertState(
            account=line, thresholds=self._thresholds
        )
        ratio = alert_ratio(account.maintenance_ratio, account.stress_ratio)
        self._margin[line], transitions = step(state, ratio)
        top_up = None
        if account.top_up is not None and account.top_up_usd is not None:
            top_up = TopUp(
                amount=account.top_up,
                currency=account.currency,
                usd=account.top_up_usd,
                scenario=account.stress_scenario,
                target_ratio=self._settings.margin.stress_target_ratio,
            )
        for transition in transitions:
            self.alerts.submit(margin_alert(transition, top_up))

    def _staleness(self, source: str, age_s: float) -> None:
        limit = self._settings.alerts.stale_alert_after_s
        if age_s > limit and source not in self._stale:
            self._stale.add(source)
            self.alerts.submit(
                Alert(
                    key=f"feed.stale.{source}",
                    severity=Severity.WARNING,
                    title=f"Stale data: {source}",
                    body=f"age {age_s:.0f} s",
                )
            )
        elif age_s <= limit and source in self._stale:
            self._stale.discard(source)
            self.alerts.submit(
                Alert(
                    key=f"feed.stale.{source}",
                    severity=Severity.RESOLVED,
                    title=f"Data flowing again: {source}",
                )
            )

    def _disconnection(self, venue: str, down_s: float, reason: str) -> None:
        limit = self._settings.alerts.stale_alert_after_s
        key = f"venue.disconnected.{venue}"
        if down_s > limit and key not in self._stale:
            self._stale.add(key)
            self.alerts.submit(
                Alert(
                    key=key,
                    severity=Severity.WARNING,
                    title=f"Disconnected from {venue}",
                    body=f"down for {down_s:.0f} s: {reason}",
                )
            )
        elif down_s == 0.0 and key in self._stale:
            self._stale.discard(key)
            self.alerts.submit(
                Alert(key=key, severity=Severity.RESOLVED, title=f"Reconnected to {venue}")
            )

    def _ping_watchdog(self) -> None:
        if self._watchdog_every is None:
            return
        now = time.monotonic()
        if now >= self._next_watchdog:
            sd_notify.watchdog()
            self._next_watchdog = now + self._watchdog_every

    # --- OperatorView ----------------------------------------------------------------------

    def health(self) -> HealthReport:
        """Alive while the loop turned within the last 30 s (or 10 loop intervals)."""
        last = self._last_turn_monotonic
        limit = max(30.0, 10 * self._settings.loop_interval_s)
        alive = last is not None and time.monotonic() - last <= limit
        turn_ms = self._view.now_ms if self._view else None
        return HealthReport(alive=alive or not self.started, last_turn_ms=turn_ms)

    def readiness(self) -> ReadinessReport:
        """Ready once reconciled and while every underlying is valued on fresh data."""
        reasons: list[str] = []
        if not self.started or self._view is None:
            reasons.append("start-up gates not passed yet (connect, reconcile, market data)")
        else:
            for name, row in self._view.underlyings.items():
                if row.status is not UnderlyingStatus.ACTIVE:
                    reasons.append(f"{name}: {row.trading}")
            reasons += [f"stale data: {s}" for s in sorted(self._stale)]
        return ReadinessReport(ready=not reasons, reasons=reasons)

    def status(self) -> Mapping[str, object]:
        """The last turn's book, as JSON-able data (no secrets: it holds no settings)."""
        return self._view.to_dict() if self._view else {"trading_state": "starting"}

    def halt(self, reason: str) -> None:
        """Operator: halt all trading (the daemon logs and journals `operator.halt` once)."""
        self._halt(reason)

    def resume(self) -> None:
        """Operator: resume trading (logged and journaled as `operator.resume`)."""
        self._resume()

    def flatten_hedges(self) -> str:
        """Operator: close every hedge position with reduce-only orders."""
        return self._flatten()
