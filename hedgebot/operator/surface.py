"""The operator surface of a running daemon: metrics, alerts, systemd notifications, and the
`OperatorView` the HTTP endpoint serves (health, readiness, status, halt/resume/flatten).

Owns the mapping from engine events to alerts (keys as in docs/operator.md), margin alerts
with hysteresis per account and currency, stale-data and disconnection alerts, and the systemd
watchdog ping from a healthy loop turn. Every call here returns at once: alert delivery runs in
the dispatcher's own task, so the hedge loop never waits on a channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import structlog

from hedgebot.config import Settings
from hedgebot.core.margin_alerts import MarginAlertState, MarginThresholds, margin_alert, step
from hedgebot.daemon.state import BookState
from hedgebot.model.alerts import Alert, Severity
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.view import TurnView
from hedgebot.operator import sd_notify
from hedgebot.operator.alerts import AlertDispatcher
from hedgebot.operator.http_api import HealthReport, ReadinessReport
from hedgebot.operator.metrics import Metrics

log = structlog.get_logger("hedgebot.operator")

_EVENT_ALERTS: Mapping[str, tuple[str, Severity, str]] = {
    "daemon.started": ("lifecycle.startup", Severity.INFO, "hedgebot started"),
    "daemon.stopped": ("lifecycle.shutdown", Severity.INFO, "hedgebot stopped"),
    "order.rejected": ("order.rejected.{underlying}", Severity.WARNING, "Hedge order rejected"),
    "order.unknown": (
        "order.unknown.{underlying}",
        Severity.WARNING,
        "Hedge order outcome unknown",
    ),
    "order.lost": ("order.unknown.{underlying}", Severity.CRITICAL, "Hedge order lost"),
    "order.not_placed": (
        "order.unknown.{underlying}",
        Severity.WARNING,
        "Hedge order never reached the venue",
    ),
    "order.late_fill": ("order.unknown.{underlying}", Severity.WARNING, "Late fill applied"),
    "order.unresolved": (
        "order.unknown.{underlying}",
        Severity.CRITICAL,
        "Hedge order unresolved: instrument halted",
    ),
    "guard.halted": ("hedge.failing.{underlying}", Severity.CRITICAL, "Underlying halted"),
    "guard.kill_switch": ("trading.state", Severity.CRITICAL, "Kill switch engaged"),
    "trading.state_changed": ("trading.state", Severity.WARNING, "Trading state changed"),
    "market.bad_data": ("feed.bad_data.{source}", Severity.WARNING, "Bad market data held"),
    "market.bad_data_cleared": ("feed.bad_data.{source}", Severity.RESOLVED, "Market data sane"),
    "risk.unvalued": ("risk.unvalued.{underlying}", Severity.WARNING, "Book cannot be valued"),
}


class _Fields(dict[str, str]):
    """Event details for an alert key template; a missing name reads as "?"."""

    def __missing__(self, name: str) -> str:
        return "?"


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
        self._reconnects: dict[str, int] = {}
        self._view: TurnView | None = None
        self._last_turn_monotonic: float | None = None
        self._watchdog_every = sd_notify.watchdog_interval_s()
        self._next_watchdog = 0.0
        self.started = False

    # --- engine side ----------------------------------------------------------------------

    def on_event(self, kind: str, detail: Mapping[str, object]) -> None:
        """Turn an engine event into an alert (and a metric where there is one)."""
        if kind == "order.rejected":
            self.metrics.record_reject(str(detail.get("underlying", "")))
        if kind == "daemon.started":
            self.started = True
            sd_notify.ready()
        spec = _EVENT_ALERTS.get(kind)
        if spec is None:
            return
        key, severity, title = spec
        if kind == "trading.state_changed" and detail.get("to") == "active":
            severity = Severity.INFO
        fields = {k: str(v) for k, v in detail.items()}
        body = ", ".join(f"{k}={v}" for k, v in sorted(fields.items()))
        self.alerts.submit(
            Alert(
                key=key.format_map(_Fields(fields)),
                severity=severity,
                title=title,
                body=body,
                fields=fields,
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
            self._count(name, "fills", row.fills, lambda u: metrics.record_fill(u, fee_usd=0.0))
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
            )
            metrics.record_data_age(f"{account.account}.account", account.data_age_s)
            self._staleness(f"{account.account}.account", account.data_age_s)
            self._margin_step(line, account.maintenance_ratio)
        for venue, health in self._state.feeds.items():
            seen = self._reconnects.get(venue, 0)
            for _ in range(health.reconnects - seen):
                metrics.record_reconnect(venue)
            self._reconnects[venue] = health.reconnects
            down_s = 0.0 if health.connected else (view.now_ms - health.since_ms) / 1000
            self._disconnection(venue, down_s, health.reason)
        self._ping_watchdog()

    def _hedge_key(self, underlying: str) -> InstrumentKey:
        hedge = self._settings.hedges[underlying]
        return InstrumentKey(self._settings.accounts[hedge.account].venue, hedge.instrument)

    def _count(self, underlying: str, what: str, total: int, record: Callable[[str], None]) -> None:
        seen = self._counts.get((underlying, what), 0)
        for _ in range(max(0, total - seen)):
            record(underlying)
        self._counts[underlying, what] = total

    def _margin_step(self, line: str, ratio: float) -> None:
        state = self._margin.get(line) or MarginAlertState(
            account=line, thresholds=self._thresholds
        )
        self._margin[line], transitions = step(state, ratio)
        for transition in transitions:
            self.alerts.submit(margin_alert(transition))

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
                if row.trading != "active":
                    reasons.append(f"{name}: {row.trading}")
            reasons += [f"stale data: {s}" for s in sorted(self._stale)]
        return ReadinessReport(ready=not reasons, reasons=reasons)

    def status(self) -> Mapping[str, object]:
        """The last turn's book, as JSON-able data (no secrets: it holds no settings)."""
        return self._view.to_dict() if self._view else {"trading_state": "starting"}

    def halt(self, reason: str) -> None:
        """Operator: halt all trading."""
        log.warning("operator.halt", reason=reason)
        self._halt(reason)

    def resume(self) -> None:
        """Operator: resume trading."""
        log.warning("operator.resume")
        self._resume()

    def flatten_hedges(self) -> str:
        """Operator: close every hedge position with reduce-only orders."""
        log.warning("operator.flatten_hedges")
        return self._flatten()
