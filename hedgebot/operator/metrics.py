"""Prometheus metrics of one hedgebot process, in a registry of its own.

Owns `Metrics`: the metric definitions (names prefixed `hedgebot_`, units in the names) and the
`record_*` calls the engine makes once per loop turn or event, plus `render()` for /metrics.
Each call is a few microseconds (a lock and a float store); nothing here does I/O except
`render`, which reads /proc for the process collector.

It must not use prometheus_client's global registry (tests and several books in one process
would collide), start an HTTP server of its own (`hedgebot.operator.http_api` serves /metrics), or
compute anything the engine already knows.

Units: deltas and bands in coin of the underlying; gamma in coin per USD of underlying move;
vega in USD per vol point as `hedgebot.core.risk` gives it (docs/conventions.md); margin amounts
in the account's margin currency; times in seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST as _CONTENT_TYPE
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from hedgebot.model.trading import TradingState

__all__ = ["CONTENT_TYPE", "DECISION_LATENCY_BUCKETS_S", "TRADING_STATES", "Metrics"]

CONTENT_TYPE: Final[str] = _CONTENT_TYPE
"""The Content-Type of `Metrics.render()` output (Prometheus text exposition format)."""

DECISION_LATENCY_BUCKETS_S: Final = (
    50e-6,
    100e-6,
    250e-6,
    500e-6,
    1e-3,
    2.5e-3,
    5e-3,
    10e-3,
    25e-3,
    50e-3,
    100e-3,
    250e-3,
    500e-3,
    1.0,
)

TRADING_STATES: Final = tuple(state.value for state in TradingState)
"""States always exported (0 or 1) so that dashboards and alert rules see every series
("active", "reducing", "halted")."""


class Metrics:
    """All hedgebot metrics, registered in `self.registry` (a fresh `CollectorRegistry`)."""

    def __init__(self, *, process_collectors: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._per_underlying: dict[str, tuple[Gauge, ...]] = {}
        self._underlying_gauges()
        self._margin_gauges()
        self._order_counters()
        self._health_metrics()
        if process_collectors:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self._trading_states: set[str] = set(TRADING_STATES)
        self.record_trading_state(TradingState.ACTIVE)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, doc, labels, registry=self.registry)

    def _counter(self, name: str, doc: str, labels: tuple[str, ...]) -> Counter:
        return Counter(name, doc, labels, registry=self.registry)

    def _underlying_gauges(self) -> None:
        u = ("underlying",)
        self._net_delta = self._gauge("hedgebot_net_delta_coin", "Book net delta.", u)
        self._target = self._gauge("hedgebot_target_delta_coin", "Target net delta.", u)
        self._band = self._gauge(
            "hedgebot_band_half_width_coin", "Half-width of the no-trade band.", u
        )
        self._price = self._gauge("hedgebot_underlying_price_usd", "Index price.", u)
        self._gamma = self._gauge(
            "hedgebot_net_gamma_coin_per_usd", "Book gamma: delta change per USD move.", u
        )
        self._vega = self._gauge(
            "hedgebot_net_vega_usd_per_vol",
            "Book vega in USD per vol point (0.01 of implied vol).",
            u,
        )

    def _margin_gauges(self) -> None:
        a = ("account",)
        self._mm_ratio = self._gauge(
            "hedgebot_margin_maintenance_ratio",
            "Maintenance margin / equity (liquidation at 1; +Inf when equity <= 0).",
            a,
        )
        self._available = self._gauge(
            "hedgebot_margin_available_ccy",
            "Equity minus initial margin, in the account's margin currency.",
            a,
        )
        self._equity = self._gauge(
            "hedgebot_margin_equity_ccy", "Account equity in its margin currency.", a
        )
        self._stress_ratio = self._gauge(
            "hedgebot_margin_stress_ratio",
            "Maintenance margin / equity under the configured stress scenario (margin repriced).",
            a,
        )
        self._top_up = self._gauge(
            "hedgebot_margin_top_up_ccy",
            "Collateral, in the margin currency, restoring the stress target ratio.",
            a,
        )
        self._top_up_usd = self._gauge(
            "hedgebot_margin_top_up_usd", "The same top-up in USD at today's index.", a
        )

    def _order_counters(self) -> None:
        u = ("underlying",)
        self._orders = self._counter("hedgebot_hedge_orders_total", "Hedge orders sent.", u)
        self._fills = self._counter("hedgebot_hedge_fills_total", "Hedge fills received.", u)
        self._rejects = self._counter(
            "hedgebot_hedge_rejects_total", "Hedge orders rejected by the venue.", u
        )
        self._fees = self._counter("hedgebot_fees_usd_total", "Fees paid on hedge fills.", u)
        self._rebates = self._counter(
            "hedgebot_fee_rebates_usd_total", "Rebates (negative fees) earned on hedge fills.", u
        )
        self._pnl = self._gauge(
            "hedgebot_pnl_usd",
            "Live P&L attribution since start, per underlying and component (USD).",
            ("underlying", "component"),
        )

    def _health_metrics(self) -> None:
        self._data_age = self._gauge(
            "hedgebot_data_age_seconds", "Age of the newest data from a source.", ("source",)
        )
        self._latency = Histogram(
            "hedgebot_decision_latency_seconds",
            "Time from loop wake-up to decision, per loop turn.",
            buckets=DECISION_LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self._last_turn = self._gauge(
            "hedgebot_last_loop_turn_timestamp_seconds", "Wall time of the last loop turn."
        )
        self._reconnects = self._counter(
            "hedgebot_reconnects_total", "Venue connection re-establishments.", ("venue",)
        )
        self._trading_state = self._gauge(
            "hedgebot_trading_state", "1 for the current trading state, else 0.", ("state",)
        )

    def declare(self, *, underlyings: Iterable[str], venues: Iterable[str]) -> None:
        """Export every counter of every configured underlying and venue at 0 from start-up, so
        that `increase()` and `rate()` see a first event (an alert rule needs the series before
        it moves). Gauges appear with the first loop turn: before it there is no true value;
        accounts are labelled per margin currency (`account/currency`), known after the first
        reconciliation."""
        for underlying in underlyings:
            for counter in (self._orders, self._fills, self._rejects, self._fees, self._rebates):
                counter.labels(underlying)
        for venue in venues:
            self._reconnects.labels(venue)

    def record_underlying(
        self,
        underlying: str,
        *,
        net_delta: float,
        target: float,
        band: float,
        price: float,
        gamma: float,
        vega: float,
    ) -> None:
        """Record the risk picture of one underlying after a loop turn."""
        gauges = self._per_underlying.get(underlying)
        if gauges is None:
            parents = (self._net_delta, self._target, self._band, self._price, self._gamma)
            gauges = tuple(g.labels(underlying) for g in (*parents, self._vega))
            self._per_underlying[underlying] = gauges
        for gauge, value in zip(gauges, (net_delta, target, band, price, gamma, vega), strict=True):
            gauge.set(value)

    def record_headroom(
        self,
        account: str,
        *,
        maintenance_ratio: float,
        available: float,
        equity: float,
        stress_ratio: float | None = None,
        top_up: float | None = None,
        top_up_usd: float | None = None,
    ) -> None:
        """Record the margin of one account (and, where projected, under the stress scenario)."""
        self._mm_ratio.labels(account).set(maintenance_ratio)
        self._available.labels(account).set(available)
        self._equity.labels(account).set(equity)
        if stress_ratio is not None:
            self._stress_ratio.labels(account).set(stress_ratio)
        if top_up is not None:
            self._top_up.labels(account).set(top_up)
        if top_up_usd is not None:
            self._top_up_usd.labels(account).set(top_up_usd)

    def record_order(self, underlying: str) -> None:
        """Count one hedge order sent."""
        self._orders.labels(underlying).inc()

    def record_fill(self, underlying: str, *, fee_usd: float) -> None:
        """Count one hedge fill and its fee; a negative fee (maker rebate) counts as a rebate."""
        self._fills.labels(underlying).inc()
        self.record_fees(underlying, fees_usd=max(fee_usd, 0.0), rebates_usd=max(-fee_usd, 0.0))

    def record_fill_count(self, underlying: str) -> None:
        """Count one hedge fill (its fee goes through `record_fees`)."""
        self._fills.labels(underlying).inc()

    def record_fees(self, underlying: str, *, fees_usd: float, rebates_usd: float) -> None:
        """Add fees paid and rebates earned (both positive USD amounts)."""
        if fees_usd > 0:
            self._fees.labels(underlying).inc(fees_usd)
        if rebates_usd > 0:
            self._rebates.labels(underlying).inc(rebates_usd)

    def record_pnl(self, underlying: str, pnl: Mapping[str, float]) -> None:
        """Set the live P&L attribution of one underlying (component -> USD or bps)."""
        for component, value in pnl.items():
            self._pnl.labels(underlying, component).set(value)

    def record_reject(self, underlying: str) -> None:
        """Count one hedge order rejected by the venue."""
        self._rejects.labels(underlying).inc()

    def record_data_age(self, source: str, seconds: float) -> None:
        """Record how old the newest data from `source` (e.g. `deribit.ticker`) is."""
        self._data_age.labels(source).set(seconds)

    def observe_decision_latency(self, seconds: float) -> None:
        """Observe one loop turn's decision latency; also marks the loop as turning now."""
        self._latency.observe(seconds)
        self._last_turn.set_to_current_time()

    def record_reconnect(self, venue: str) -> None:
        """Count one reconnection to `venue`."""
        self._reconnects.labels(venue).inc()

    def record_trading_state(self, state: str) -> None:
        """Set the current trading state (active, reducing, halted; any case, or a new one)."""
        state = state.lower()
        self._trading_states.add(state)
        for known in self._trading_states:
            self._trading_state.labels(known).set(1.0 if known == state else 0.0)

    def render(self) -> bytes:
        """All metrics in the Prometheus text exposition format (see `CONTENT_TYPE`)."""
        return generate_latest(self.registry)
