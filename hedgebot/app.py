"""The composition root: the one place that knows about modes.

`build_runtime` wires the same object graph for every mode; only the clock, the market feeds
and the brokers differ:

* simulated venues (``driver = "simulated"``): a `SimulatedClock` and the built-in
  `SimulatedExchange`, which is both the feed and the broker (its matching engine is the paper
  engine);
* ``driver = "ccxt"`` in paper mode: ccxt market data, fills simulated by the paper broker,
  no credentials loaded;
* ``driver = "ccxt"`` in live mode (needs ``--live`` too): ccxt market data and order entry.

`Runtime.run` then passes the start-up gates and turns the hedge loop. Nothing outside the
composition root (this module, `hedgebot.venue_wiring`, and `hedgebot.risk_command` for the
read-only report) asks which mode it is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import json
import signal
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog
from numpy.typing import NDArray

from hedgebot import config as cfg
from hedgebot.clock import SimulatedClock
from hedgebot.config import (
    Settings,
    config_permission_warning,
    load_settings,
    read_secret,
    secret_file_warning,
    url_credentials,
)
from hedgebot.core.fencing import client_prefix as make_client_prefix
from hedgebot.core.guards import GuardLimits, TradingState
from hedgebot.core.policy import (
    BandRule,
    FixedBand,
    HedgeRule,
    PercentBand,
    RebalanceTo,
    WhalleyWilmottBand,
)
from hedgebot.core.run_stats import RunSummary
from hedgebot.daemon.engine import AccountSpec, Engine, EventNotifier, TurnObserver
from hedgebot.daemon.executor import Executor, HedgeLeg
from hedgebot.daemon.fence import FenceWatch, patrol
from hedgebot.daemon.gatekeeper import Gatekeeper
from hedgebot.daemon.journal import Journal
from hedgebot.daemon.market_sanity import SanityFilter
from hedgebot.daemon.startup import (
    adopt_unfinished_orders,
    await_market_data,
    load_instruments,
    reconcile_accounts,
)
from hedgebot.daemon.state import BookState
from hedgebot.daemon.supervisor import Supervisor
from hedgebot.model.errors import ConfigError, HedgebotError, StateUnusable
from hedgebot.model.instruments import Instrument, InstrumentKey
from hedgebot.operator import sd_notify
from hedgebot.operator.console import ConsoleStatus
from hedgebot.operator.logs import REDACTOR, configure_logging
from hedgebot.venue_wiring import Venues, ccxt_venues
from hedgebot.venues.ports import Broker, MarketFeed

if TYPE_CHECKING:
    from hedgebot.backtest.book import BacktestBook
    from hedgebot.backtest.request import BacktestRequest
    from hedgebot.venues.sim.settings import UnderlyingSettings

log = structlog.get_logger("hedgebot.app")
FloatArray = NDArray[np.float64]


def build_venues(settings: Settings, *, live: bool, run_number: int, client_prefix: str) -> Venues:
    """Feeds and brokers for the configured venues, in the configured mode."""
    drivers = {v.driver for v in settings.venues.values()}
    if drivers == {"simulated"}:
        return _simulated_venues(settings, run_number=run_number)
    if "simulated" in drivers:
        raise ConfigError("venues: simulated venues cannot be combined with real ones")
    return ccxt_venues(settings, live=live, client_prefix=client_prefix, run_number=run_number)


def _symbols_by_venue(settings: Settings) -> dict[str, list[str]]:
    symbols: dict[str, list[str]] = {name: [] for name in settings.venues}
    for account in settings.accounts.values():
        symbols[account.venue] += [p.symbol for p in account.positions]
    for hedge in settings.hedges.values():
        symbols[settings.accounts[hedge.account].venue].append(hedge.instrument)
    return {venue: sorted(set(names)) for venue, names in symbols.items()}


def _simulated_venues(settings: Settings, *, run_number: int) -> Venues:
    """The built-in exchange. A restart starts a new simulated venue history: its ids carry
    the run number so they never collide with ids journaled by earlier runs."""
    from hedgebot.venues.sim.accounts import AccountSeed
    from hedgebot.venues.sim.exchange import SimulatedExchange
    from hedgebot.venues.sim.settings import MarketSettings

    sim = settings.simulator
    start_ms = int(sim.start.timestamp() * 1000)
    clock = SimulatedClock(start_ms, speed=sim.speed or None)
    market = MarketSettings(
        underlyings=_sim_underlyings(settings),
        seed=sim.seed,
        start_ms=start_ms,
        latency_ms=sim.latency_ms,
    )
    symbols = _symbols_by_venue(settings)
    feeds: dict[str, MarketFeed] = {}
    brokers: dict[str, Broker] = {}
    for venue in settings.venues:
        seeds = {
            name: AccountSeed(
                collateral=dict(account.collateral),
                positions=[(p.symbol, p.amount, p.price) for p in account.positions],
            )
            for name, account in settings.accounts.items()
            if account.venue == venue
        }
        try:
            exchange = SimulatedExchange(
                venue=venue,
                clock=clock,
                market=market,
                accounts=seeds,
                symbols=symbols[venue],
                id_prefix=f"r{run_number}-",
            )
        except ValueError as exc:  # a symbol the simulated exchange does not list
            raise ConfigError(f"venues.{venue} (simulated): {exc}") from None
        feeds[venue] = exchange
        for name in seeds:
            brokers[name] = exchange.broker(name)
    return Venues(clock=clock, feeds=feeds, brokers=brokers)


def _sim_underlyings(settings: Settings) -> tuple[UnderlyingSettings, ...]:

    from hedgebot.venues.sim.settings import DEFAULT_UNDERLYINGS

    result = []
    for underlying in DEFAULT_UNDERLYINGS:
        override = settings.simulator.underlyings.get(underlying.name)
        if override is None:
            result.append(underlying)
            continue
        changes = {k: v for k, v in override.model_dump().items() if v is not None}
        result.append(dataclasses.replace(underlying, **changes))
    return tuple(result)


def band_rule(band: cfg.FixedBand | cfg.PercentBand | cfg.WhalleyWilmottBand) -> BandRule:
    """The policy's band for a configured band."""
    if isinstance(band, cfg.FixedBand):
        return FixedBand(band.half_width)
    if isinstance(band, cfg.PercentBand):
        return PercentBand(percent=band.percent, minimum=band.minimum, maximum=band.maximum)
    return WhalleyWilmottBand(
        risk_aversion=band.risk_aversion,
        cost=band.cost_bps / 10_000,
        minimum=band.minimum,
        maximum=band.maximum,
    )


def guard_limits(settings: Settings) -> GuardLimits:
    """The guards' limits for a configuration."""
    return GuardLimits(
        max_data_age_s=settings.guards.max_data_age_s,
        max_notional_per_minute_usd=settings.guards.max_notional_per_minute_usd,
        max_notional_per_hour_usd=settings.guards.max_notional_per_hour_usd,
        max_orders_per_minute=settings.guards.max_orders_per_minute,
        max_consecutive_rejects=settings.guards.max_consecutive_rejects,
        max_hedge_position={u: h.max_position for u, h in settings.hedges.items()},
        max_abs_net_delta_usd=settings.guards.kill_abs_net_delta_usd,
        max_maintenance_ratio=settings.guards.kill_maintenance_ratio,
    )


def hedge_rule(hedge: cfg.HedgeSettings) -> HedgeRule:
    """The policy's rule for a configured hedge."""
    return HedgeRule(
        target=hedge.target,
        band=band_rule(hedge.band),
        rebalance_to=RebalanceTo(hedge.rebalance_to),
        min_order=hedge.min_order,
        max_order=hedge.max_order,
        max_position=hedge.max_position,
        cooldown_ms=int(hedge.cooldown_s * 1000),
    )


def hedge_legs(
    settings: Settings, instruments: Mapping[InstrumentKey, Instrument]
) -> dict[str, HedgeLeg]:
    """One leg per hedged underlying, checked against the venue's instrument list."""
    legs = {}
    for underlying, hedge in settings.hedges.items():
        venue = settings.accounts[hedge.account].venue
        key = InstrumentKey(venue, hedge.instrument)
        instrument = instruments[key]
        if instrument.underlying != underlying:
            raise ConfigError(
                f"hedges.{underlying}.instrument: {hedge.instrument} hedges "
                f"{instrument.underlying}, not {underlying}"
            )
        legs[underlying] = HedgeLeg(
            underlying=underlying,
            account=hedge.account,
            instrument=instrument,
            rule=hedge_rule(hedge),
            slippage_bps=hedge.slippage_bps,
            order_timeout_ms=int(hedge.order_timeout_s * 1000),
        )
    return legs


class Runtime:
    """One daemon: venues, state, journal, executor, gatekeeper and engine, wired together."""

    def __init__(
        self, settings: Settings, *, live: bool, observers: Sequence[TurnObserver]
    ) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.journal = Journal(settings.state_dir / f"journal-{settings.mode}.sqlite")
        try:
            installation = self.journal.installation_id()
            client_prefix = make_client_prefix(installation)
            self.venues = build_venues(
                settings,
                live=live,
                run_number=self.journal.count_events("daemon.started"),
                client_prefix=client_prefix,
            )
        except BaseException:
            self.journal.close()  # release the instance lock: nothing was started
            raise
        self.clock = self.venues.clock
        self.state = BookState(clock=self.clock)
        self.events: dict[str, int] = {}
        self.gatekeeper = Gatekeeper(
            limits=guard_limits(settings),
            reducing_ratio=settings.margin.reducing_ratio,
            notify=self.notify,
            min_available_ratio=settings.margin.min_available_ratio,
            hedge_im_rate=settings.margin.hedge_im_rate,
        )
        self.executor = Executor(
            clock=self.clock,
            journal=self.journal,
            brokers=self.venues.brokers,
            client_prefix=client_prefix,
            observer=self.notify,
        )
        self.fence = FenceWatch(
            self.executor,
            own_installation=installation,
            hedge_instruments=[
                InstrumentKey(settings.accounts[h.account].venue, h.instrument)
                for h in settings.hedges.values()
            ],
            halt=self.executor.halted.__setitem__,
            notify=self.notify,
        )
        self.state.listener = self.fence
        self.observers = list(observers)
        self.event_listeners: list[EventNotifier] = []
        self.engine: Engine | None = None
        self.supervisor = Supervisor(stop=asyncio.Event(), notify=self.notify)
        self._restore_flags()

    def notify(self, kind: str, detail: Mapping[str, object]) -> None:
        """Record an operational event: journal, log, counters (alerts hook in here)."""
        if kind == "order.accepted":  # every order: neither journaled nor logged
            self.gatekeeper.order_accepted(str(detail.get("underlying", "")))
            for listener in self.event_listeners:
                listener(kind, detail)  # resolves an open order.rejected alert
            return
        self.events[kind] = self.events.get(kind, 0) + 1
        try:
            self.journal.record_event(ts_ms=self.clock.now_ms(), kind=kind, detail=detail)
            self._persist_flags(kind, detail)
        except StateUnusable as exc:
            if kind not in ("daemon.failed", "daemon.stopped", "daemon.task_died"):
                raise
            log.error("journal.unwritable", lost_event=kind, error=str(exc))
        log.warning(kind, **{k: str(v) for k, v in detail.items()})
        for listener in self.event_listeners:
            listener(kind, detail)
        if kind == "order.rejected":
            underlying = str(detail.get("underlying", ""))
            self.gatekeeper.order_rejected(underlying)

    def _persist_flags(self, kind: str, detail: Mapping[str, object]) -> None:
        """Journal the trading flags an event sets or clears, so a restart keeps them."""
        now = self.clock.now_ms()
        reason = str(detail.get("reason", ""))
        if kind == "operator.halt":
            self.journal.set_flag("operator", reason=reason, set_by="operator", ts_ms=now)
        elif kind == "operator.resume":
            self.journal.clear_flags()
            if self.gatekeeper.trading_state is TradingState.REDUCING:  # margin, not a halt
                why = self.gatekeeper.trading_detail.reason
                self.journal.set_flag("reducing", reason=why, set_by="margin", ts_ms=now)
        elif kind == "guard.halted":
            name = f"underlying:{detail.get('underlying', '')}"
            self.journal.set_flag(name, reason=reason, set_by="guard", ts_ms=now)
        elif kind == "guard.kill_switch":
            self.journal.set_flag("kill_switch", reason=reason, set_by="kill switch", ts_ms=now)
        elif kind == "trading.state_changed":
            if detail.get("to") == TradingState.REDUCING.value:
                self.journal.set_flag("reducing", reason=reason, set_by="margin", ts_ms=now)
            elif detail.get("from") == TradingState.REDUCING.value:
                self.journal.clear_flags("reducing")
        elif kind in ("order.lost", "order.unresolved", "fence.foreign_hedger"):
            for key, why in self.executor.halted.items():
                name = f"instrument:{key.venue}:{key.symbol}"
                self.journal.set_flag(name, reason=why, set_by=kind, ts_ms=now)

    def _restore_flags(self) -> None:
        """Trading flags a previous run journaled hold again until an operator resumes."""
        flags = self.journal.flags()
        for flag in flags:
            kind, _, rest = flag.name.partition(":")
            if kind == "operator":
                self.gatekeeper.halt(flag.reason)
            elif kind == "kill_switch":
                self.gatekeeper.restore_kill_switch(flag.reason)
            elif kind == "underlying":
                self.gatekeeper.restore_underlying_halt(rest, flag.reason)
            elif kind == "reducing":
                self.gatekeeper.restore_reducing(flag.reason, since_ms=flag.set_ms)
            elif kind == "instrument":
                venue, _, symbol = rest.partition(":")
                self.executor.halted[InstrumentKey(venue, symbol)] = flag.reason
        if flags:
            self.notify(
                "trading.restored",
                {
                    "flags": "; ".join(
                        f"{f.name} by {f.set_by} at {f.set_ms}: {f.reason}" for f in flags
                    )
                },
            )

    async def start(self) -> Engine:
        """Pass the start-up gates and build the engine (does not trade)."""
        settings = self.settings
        await self.venues.open()
        wanted = [
            InstrumentKey(venue, symbol)
            for venue, symbols in _symbols_by_venue(settings).items()
            for symbol in symbols
        ]
        instruments = await load_instruments(list(self.venues.feeds.values()), wanted)
        legs = hedge_legs(settings, instruments)
        for account, broker in self.venues.brokers.items():
            self._spawn(f"stream.account.{account}", broker.stream(self.state))
            if self.mode == "live":  # only real orders can come from another hedger
                interval_s = settings.venues[settings.accounts[account].venue].fence_interval_s
                self._spawn(
                    f"fence.patrol.{account}",
                    patrol(broker, self.fence, clock=self.clock, interval_s=interval_s),
                )
        await reconcile_accounts(self.venues.brokers, self.state)
        adopted = await adopt_unfinished_orders(
            journal=self.journal,
            executor=self.executor,
            brokers=self.venues.brokers,
            state=self.state,
            clock=self.clock,
        )
        keys = set(wanted) | {
            p.key for s in self.state.accounts.values() for p in s.positions if p.amount
        }
        market_sink = SanityFilter(self.state, instruments=instruments, notify=self.notify)
        for venue, feed in self.venues.feeds.items():
            self._spawn(
                f"stream.market.{venue}",
                feed.stream(sorted(k for k in keys if k.venue == venue), market_sink),
            )
        missing = await await_market_data(
            self.state, keys, list(settings.hedges), self.clock, timeout_s=30.0
        )
        if missing:
            log.warning("startup.market_data_missing", missing=missing)
        self.engine = Engine(
            mode=self.mode,
            clock=self.clock,
            state=self.state,
            executor=self.executor,
            journal=self.journal,
            gatekeeper=self.gatekeeper,
            legs=legs,
            accounts={
                name: AccountSpec(venue=a.venue, count_collateral=a.count_collateral)
                for name, a in settings.accounts.items()
            },
            instruments=instruments,
            observers=self.observers,
            notify=self.notify,
            loop_interval_s=settings.loop_interval_s,
            stress=settings.margin.stress_scenario(),
            margin_models=dict.fromkeys(settings.accounts, settings.margin.margin_model()),
            greeks_tolerance=settings.greeks_check.tolerance(),
            vega_limits=settings.vega_limits,
        )
        self.state.on_change = self.engine.wake.set
        gc.freeze()  # start-up objects live forever: keep them out of collector pauses
        self.notify(
            "daemon.started",
            {
                "mode": self.mode,
                "venues": ",".join(sorted(self.venues.feeds)),
                "underlyings": ",".join(sorted(legs)),
                "adopted_orders": adopted,
            },
        )
        return self.engine

    def _spawn(self, name: str, coroutine: Coroutine[Any, Any, None]) -> None:
        self.supervisor.spawn(name, coroutine)

    async def run(self, stop: asyncio.Event, *, stop_at_ms: int | None = None) -> RunSummary:
        """Start, loop until stopped, shut down cleanly; return the run summary.

        A supervised task that dies sets `stop`; its failure is raised after the shutdown, as
        is any typed failure of the loop itself (a journal that can no longer be written)."""
        self.supervisor.rebind(stop)
        try:
            engine = self.engine or await self.start()
            await engine.loop(stop, stop_at_ms=stop_at_ms)
            if self.supervisor.failure is not None:
                raise self.supervisor.failure
            summary = engine.summary(journal_path=str(self.journal.path))
            return dataclasses.replace(summary, events=dict(self.events))
        except HedgebotError as exc:
            if exc is not self.supervisor.failure:
                self.notify("daemon.failed", {"error": type(exc).__name__, "detail": str(exc)})
            raise
        finally:
            await self.shutdown()

    def halt(self, reason: str) -> None:
        """Operator: halt all trading until resumed."""
        self.gatekeeper.halt(reason)
        self.notify("operator.halt", {"reason": reason})

    def resume(self) -> None:
        """Operator: resume trading (lifts halts, the kill switch and lost-order halts)."""
        self.gatekeeper.resume()
        self.executor.resume()
        self.fence.fenced.clear()
        self.notify("operator.resume", {})

    def flatten(self) -> str:
        """Operator: halt, then close every hedge position."""
        if self.engine is None:
            return "not started yet"
        self.gatekeeper.halt("flattening hedges")
        self.journal.set_flag(
            "operator", reason="flattening hedges", set_by="operator", ts_ms=self.clock.now_ms()
        )
        return self.engine.request_flatten()

    async def shutdown(self) -> None:
        """Stop hedging: finish sends in progress, cancel resting orders, stop streams.

        Every step is bounded, so a venue that stops answering cannot keep the process from
        exiting (systemd would otherwise kill it, and its journal would not be closed cleanly).
        """
        await _bounded("drain sends", self.executor.drain(), 15.0)
        if self.settings.on_shutdown == "cancel":
            await _bounded("cancel resting orders", self.executor.cancel_all(), 10.0)
        await _bounded("stop streams", self.supervisor.close(5.0), 6.0)
        await _bounded("close venues", self.venues.close(), 5.0)
        self.notify("daemon.stopped", {"mode": self.mode})
        self.journal.close()


def _stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> Callable[[], None]:
    """SIGTERM, SIGINT and SIGHUP stop cleanly; returns the stop action (also for --duration).

    SIGHUP (a closed terminal, `systemctl kill -s HUP`) does not reload: the configuration is
    read again by a restart, through the start-up gates."""

    def begin_stop() -> None:
        if not stop.is_set():
            sd_notify.stopping()  # as shutdown begins, not once it is over
        stop.set()

    def on_signal(signum: int) -> None:
        log.warning("daemon.signal", signal=signal.Signals(signum).name, action="stopping cleanly")
        begin_stop()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    return begin_stop


async def _bounded(step: str, awaitable: Awaitable[object], timeout_s: float) -> None:
    """Await one shutdown step for at most `timeout_s`; log, never raise.

    `asyncio.wait`, not `wait_for`: on timeout the step is cancelled but not waited for, so a
    step that swallows its cancellation cannot hang the shutdown.
    """
    task = asyncio.ensure_future(awaitable)
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if not done:
        task.cancel()
        log.error("shutdown.step_timed_out", step=step, timeout_s=timeout_s)
        return
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("shutdown.step_failed", step=step, error=str(error))


def _register_secrets(settings: Settings, *, live: bool) -> None:
    """Mask every configured secret in logs; key files are read only where they are used (live
    mode, or a paper account that starts from the venue's snapshot)."""
    secrets = [
        read_secret(settings.http.control_token, settings.http.control_token_file),
        *settings.alerts.urls,
    ]
    reads = live or any(a.snapshot_from_venue for a in settings.accounts.values())
    for venue in settings.venues.values():
        secrets += [venue.api_key, venue.api_secret, venue.api_password]
        secrets += url_credentials(venue.rest_url) + url_credentials(venue.ws_url)
        if reads:
            secrets += [
                read_secret(None, venue.api_key_file),
                read_secret(None, venue.api_secret_file),
                read_secret(None, venue.api_password_file),
            ]
    REDACTOR.register(secrets)
    if live:
        for venue in settings.venues.values():
            for file in (venue.api_key_file, venue.api_secret_file, venue.api_password_file):
                warning = secret_file_warning(file) if file is not None else None
                if warning:
                    log.warning("secret_file.readable_by_others", detail=warning)


async def run_daemon(
    *, config: Path, duration_s: float | None, summary_path: Path | None, live_flag: bool
) -> int:
    """``hedgebot run``: validate, wire, run until SIGTERM/SIGINT or `duration_s`, summarise."""
    from hedgebot.operator.alerts import AlertDispatcher, DispatcherOptions
    from hedgebot.operator.http_api import OperatorServer
    from hedgebot.operator.metrics import Metrics
    from hedgebot.operator.surface import OperatorSurface

    settings = load_settings(config)
    if settings.mode == "live" and not live_flag:
        raise ConfigError('mode: "live" also needs --live on the command line')
    if live_flag and settings.mode != "live":
        raise ConfigError('mode: --live given, but the config says mode = "paper"')
    table = configure_logging(level=settings.log.level, fmt=settings.log.format)
    _register_secrets(settings, live=live_flag)
    warning = config_permission_warning(config)
    if warning:
        log.warning("config.writable_by_others", detail=warning)
    runtime = Runtime(settings, live=live_flag, observers=[])
    alerts = AlertDispatcher(
        settings.alerts.urls, options=DispatcherOptions(rate_limit_s=settings.alerts.rate_limit_s)
    )
    metrics = Metrics()
    surface = OperatorSurface(
        settings=settings,
        state=runtime.state,
        metrics=metrics,
        alerts=alerts,
        halt=runtime.halt,
        resume=runtime.resume,
        flatten=runtime.flatten,
    )
    console = ConsoleStatus(interval_s=settings.log.status_interval_s, table=table)
    runtime.observers += [console, surface]
    runtime.event_listeners.append(surface.on_event)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    begin_stop = _stop_on_signals(loop, stop)
    if duration_s is not None:
        loop.call_later(duration_s, begin_stop)
    alert_task = asyncio.create_task(alerts.run())
    async with contextlib.AsyncExitStack() as stack:
        if settings.http.enabled:
            server = OperatorServer(
                surface,
                metrics,
                host=settings.http.host,
                port=settings.http.port,
                control_token=read_secret(
                    settings.http.control_token, settings.http.control_token_file
                ),
            )
            await stack.enter_async_context(server)
            log.info("http.listening", url=server.url)
        try:
            summary = await runtime.run(stop)
        finally:
            begin_stop()  # already sent unless the run ended by itself
            console.close()
            await alerts.aclose()
            alert_task.cancel()
    if summary_path is not None:
        text = json.dumps(summary.to_dict(), indent=2, sort_keys=True) + "\n"
        await asyncio.to_thread(summary_path.write_text, text)
    log.info("daemon.summary", **summary.to_dict()["totals"])  # type: ignore[arg-type]
    return 0


def backtest(*, config: Path, underlying: str | None, request: BacktestRequest) -> int:
    """``hedgebot backtest``: the configured book and hedge rule of one underlying through the
    backtest (hedgebot.backtest), on the same policy code the daemon trades with."""
    from hedgebot.backtest.request import execute

    settings = load_settings(config)
    configure_logging(level="error", fmt="json")
    chosen = underlying or next(iter(settings.hedges), None)
    if chosen is None or chosen not in settings.hedges:
        raise ConfigError(f"hedges: no hedge configured for {chosen or 'any underlying'}")
    book = backtest_book(settings, chosen)
    spec = next(u for u in _sim_underlyings(settings) if u.name == chosen)
    dynamics: dict[str, Any] = {
        "spot": spec.spot,
        "vol": spec.vol,
        "vol_of_vol": spec.vol_of_vol,
        "vol_half_life_hours": spec.vol_half_life_hours,
        "jumps_per_day": spec.jumps_per_day,
        "jump_std": spec.jump_std,
        "iv_premium": spec.iv_premium,
        **request.dynamics,
    }
    try:
        mc = dataclasses.replace(request.monte_carlo, **dynamics)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"backtest: {exc}") from None
    start_ms = int(settings.simulator.start.timestamp() * 1000)
    if request.guards:
        request = dataclasses.replace(request, limits=guard_limits(settings))
    execute(
        dataclasses.replace(request, monte_carlo=mc),
        book=book,
        rule=hedge_rule(settings.hedges[chosen]),
        start_ms=start_ms,
    )
    return 0


def backtest_book(settings: Settings, underlying: str) -> BacktestBook:
    """The configured positions of `underlying` (across accounts) as a backtest book.
    Symbols follow Deribit's names."""
    from hedgebot.backtest.book import BacktestBook, OptionLeg
    from hedgebot.model.instruments import Kind, OptionType
    from hedgebot.venues.sim.catalog import sim_instrument

    specs = {u.name: u for u in _sim_underlyings(settings)}
    spec = specs.get(underlying)
    if spec is None:
        raise ConfigError(f"hedges.{underlying}: the backtest knows no such underlying")
    hedge = settings.hedges[underlying]

    def instrument(venue: str, symbol: str, where: str) -> Instrument:
        try:
            return sim_instrument(venue, symbol, underlyings=specs.values())
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None

    options: list[OptionLeg] = []
    static = face = 0.0
    for name, account in settings.accounts.items():
        for p in account.positions:
            inst = instrument(account.venue, p.symbol, f"accounts.{name}.positions")
            if inst.underlying != underlying:
                continue
            if inst.kind is Kind.OPTION:
                assert inst.strike is not None
                assert inst.expiry_ms is not None
                options.append(
                    OptionLeg(
                        symbol=p.symbol,
                        strike=inst.strike,
                        expiry_ms=inst.expiry_ms,
                        is_call=inst.option_type is OptionType.CALL,
                        amount=p.amount,
                    )
                )
            elif inst.amount_is_usd:
                face += p.amount
            else:
                static += p.amount
        if account.count_collateral:
            static += account.collateral.get(underlying, 0.0)
    venue = settings.accounts[hedge.account].venue
    return BacktestBook(
        underlying=underlying,
        options=tuple(options),
        static_coin=static,
        inverse_face_usd=face,
        hedge=instrument(venue, hedge.instrument, f"hedges.{underlying}.instrument"),
        smile=functools.partial(
            _sim_smile, skew=float(spec.smile_skew), curvature=float(spec.smile_curvature)
        ),
    )


def _sim_smile(
    atm: FloatArray,
    forward: FloatArray,
    strike: float,
    tau: FloatArray,
    *,
    skew: float,
    curvature: float,
) -> FloatArray:
    """The simulated venue's smile, for the backtest's revaluation."""
    from hedgebot.venues.sim.smile import smile_vol

    return smile_vol(
        atm=atm,
        forward=forward,
        strike=np.full_like(forward, strike),
        tau=tau,
        skew=np.full_like(forward, skew),
        curvature=np.full_like(forward, curvature),
    )
