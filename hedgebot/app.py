"""The composition root: the one place that knows about modes.

`venue_mode` decides which venues back the daemon; `hedgebot.venue_wiring.open_venues` builds
that mode's finished, frozen venue graph; the rest of the object graph is the same for every
mode, only the clock, the market feeds and the brokers differ:

* simulated venues (``driver = "simulated"``): a `SimulatedClock` and the built-in
  `SimulatedExchange`, which is both the feed and the broker (its matching engine is the paper
  engine);
* ``driver = "ccxt"`` in paper mode: ccxt market data, fills simulated by the paper broker,
  no credentials loaded;
* ``driver = "ccxt"`` in live mode (needs ``--live`` too): ccxt market data and order entry.

`Runtime.start` opens the venue graph (the first start-up gate), builds the executor and its
fence on it, passes the other start-up gates and builds the engine; `Runtime.run` then turns the
hedge loop. Nothing outside the composition root (this module, `hedgebot.venue_wiring`, and
`hedgebot.risk_command` for the read-only report) asks which mode it is in.
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
from hedgebot.config import (
    Settings,
    config_permission_warning,
    load_settings,
    read_secret,
    secret_file_warning,
    url_credentials,
)
from hedgebot.core.fencing import client_prefix as make_client_prefix
from hedgebot.core.guards import GuardLimits
from hedgebot.core.policy import (
    BandRule,
    FixedBand,
    HedgeRule,
    PercentBand,
    RebalanceTo,
    WhalleyWilmottBand,
)
from hedgebot.core.run_stats import RunSummary
from hedgebot.daemon.engine import AccountSpec, Engine, TurnObserver
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
from hedgebot.model import events
from hedgebot.model.errors import ConfigError, HedgebotError, StateUnusable
from hedgebot.model.events import DaemonEventKind
from hedgebot.model.instruments import Instrument, InstrumentKey
from hedgebot.model.trading import Halt, HaltCause, TradingState
from hedgebot.operator import sd_notify
from hedgebot.operator.console import ConsoleStatus
from hedgebot.operator.logs import REDACTOR, configure_logging
from hedgebot.venue_wiring import (
    VenueGraph,
    VenueHooks,
    VenueMode,
    open_venues,
    sim_underlyings,
    symbols_by_venue,
    venue_clock,
)

if TYPE_CHECKING:
    from hedgebot.backtest.book import BacktestBook
    from hedgebot.backtest.request import BacktestRequest

log = structlog.get_logger("hedgebot.app")
FloatArray = NDArray[np.float64]

QUIET_EVENTS: frozenset[DaemonEventKind] = frozenset({DaemonEventKind.ORDER_ACCEPTED})
"""Events of every order: told to the gatekeeper and the listeners, neither journaled nor logged."""

FINAL_EVENTS: frozenset[DaemonEventKind] = frozenset(
    {DaemonEventKind.DAEMON_FAILED, DaemonEventKind.DAEMON_STOPPED, DaemonEventKind.TASK_DIED}
)
"""Events of the process's end: still logged (and alerted) when the journal cannot take them."""


def venue_mode(settings: Settings, *, live: bool) -> VenueMode:
    """The daemon's venues: simulated, paper, or live (``--live``)."""
    drivers = {v.driver for v in settings.venues.values()}
    if drivers == {"simulated"}:
        return VenueMode.SIMULATED
    if "simulated" in drivers:
        raise ConfigError("venues: simulated venues cannot be combined with real ones")
    return VenueMode.LIVE if live else VenueMode.PAPER


def report_mode(settings: Settings) -> VenueMode:
    """`hedgebot risk`'s venues: the live accounts read-only, else the daemon's paper or
    simulated book."""
    if settings.mode == "live":
        return VenueMode.READ_ONLY
    return venue_mode(settings, live=False)


def band_rule(band: cfg.BandSettings) -> BandRule:
    """The policy's band for a configured band."""
    if isinstance(band, cfg.FixedBandSettings):
        return FixedBand(band.half_width)
    if isinstance(band, cfg.PercentBandSettings):
        return PercentBand(percent=band.percent, minimum=band.minimum, maximum=band.maximum)
    return WhalleyWilmottBand(
        relative_risk_aversion=band.chosen_relative_risk_aversion,
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
        self,
        settings: Settings,
        *,
        live: bool,
        observers: Sequence[TurnObserver],
        hooks: VenueHooks = VenueHooks(),  # noqa: B008 (frozen, so one shared default is safe)
    ) -> None:
        self.settings = settings
        self.mode = settings.mode
        self.journal = Journal(settings.state_dir / f"journal-{settings.mode}.sqlite")
        try:
            self._installation = self.journal.installation_id()
            self._client_prefix = make_client_prefix(self._installation)
            self._run_number = self.journal.count_events(DaemonEventKind.DAEMON_STARTED)
            self.venue_mode = venue_mode(settings, live=live)
        except BaseException:
            self.journal.close()  # release the instance lock: nothing was started
            raise
        self._hooks = hooks
        self.clock = venue_clock(settings, self.venue_mode)
        self.venues: VenueGraph | None = None
        """The finished venue graph, once `start` opened it."""
        self._executor: Executor | None = None
        self._fence: FenceWatch | None = None
        self._restored_halts: dict[InstrumentKey, str] = {}
        self.state = BookState(clock=self.clock)
        self.events: dict[str, int] = {}
        self.gatekeeper = Gatekeeper(
            limits=guard_limits(settings),
            reducing_ratio=settings.margin.reducing_ratio,
            notify=self.notify,
            min_available_ratio=settings.margin.min_available_ratio,
            hedge_im_rate=settings.margin.hedge_im_rate,
        )
        self.observers = list(observers)
        self.event_listeners: list[events.EventSink] = []
        self.engine: Engine | None = None
        self.supervisor = Supervisor(stop=asyncio.Event(), notify=self.notify)
        self._restore_flags()

    @property
    def executor(self) -> Executor:
        """The executor (built by `start` on the finished venue graph)."""
        if self._executor is None:
            raise RuntimeError("the runtime has not started: no executor yet")
        return self._executor

    @property
    def fence(self) -> FenceWatch:
        """The fence watch (built by `start` with the executor)."""
        if self._fence is None:
            raise RuntimeError("the runtime has not started: no fence yet")
        return self._fence

    def _wire_executor(self, venues: VenueGraph) -> None:
        """The executor and its fence on the finished graph's brokers."""
        settings = self.settings
        self._executor = Executor(
            clock=self.clock,
            journal=self.journal,
            brokers=venues.brokers,
            client_prefix=self._client_prefix,
            observer=self.notify,
        )
        self._executor.halted.update(self._restored_halts)
        self._fence = FenceWatch(
            self._executor,
            own_installation=self._installation,
            hedge_instruments=[
                InstrumentKey(settings.accounts[h.account].venue, h.instrument)
                for h in settings.hedges.values()
            ],
            halt=self._executor.halted.__setitem__,
            notify=self.notify,
        )
        self.state.listener = self._fence

    def notify(self, event: events.DaemonEvent) -> None:
        """Record an operational event: the gatekeeper hears order outcomes; journal, log,
        counters; then the listeners (alerts) hear it."""
        kind = event.kind
        self.gatekeeper.on_event(event)
        if kind in QUIET_EVENTS:
            for listener in self.event_listeners:
                listener(event)  # an accepted order resolves an open order.rejected alert
            return
        detail = event.detail()
        self.events[kind.value] = self.events.get(kind.value, 0) + 1
        try:
            self.journal.record_event(ts_ms=self.clock.now_ms(), kind=kind.value, detail=detail)
            self._persist_flags(event)
        except StateUnusable as exc:
            if kind not in FINAL_EVENTS:
                raise
            log.error("journal.unwritable", lost_event=kind.value, error=str(exc))
        log.warning(kind.value, **{k: str(v) for k, v in detail.items()})
        for listener in self.event_listeners:
            listener(event)

    def _persist_flags(self, event: events.DaemonEvent) -> None:
        """Journal the halts an event sets or clears, so a restart keeps them."""
        now = self.clock.now_ms()
        match event:
            case events.OperatorHalt(reason=reason):
                halt = Halt(cause=HaltCause.OPERATOR, reason=reason, set_by="operator")
                self.journal.set_halt(halt, ts_ms=now)
            case events.OperatorResume():
                self.journal.clear_flags()
                if self.gatekeeper.trading_state is TradingState.REDUCING:  # margin, not a halt
                    why = self.gatekeeper.trading_detail.reason
                    halt = Halt(cause=HaltCause.REDUCING, reason=why, set_by="margin")
                    self.journal.set_halt(halt, ts_ms=now)
            case events.GuardHalted(underlying=underlying, reason=reason):
                halt = Halt(
                    cause=HaltCause.UNDERLYING, subject=underlying, reason=reason, set_by="guard"
                )
                self.journal.set_halt(halt, ts_ms=now)
            case events.KillSwitchEngaged(reason=reason):
                halt = Halt(cause=HaltCause.KILL_SWITCH, reason=reason, set_by="kill switch")
                self.journal.set_halt(halt, ts_ms=now)
            case events.TradingStateChanged(before=before, after=after, reason=reason):
                if after is TradingState.REDUCING:
                    halt = Halt(cause=HaltCause.REDUCING, reason=reason, set_by="margin")
                    self.journal.set_halt(halt, ts_ms=now)
                elif before is TradingState.REDUCING:
                    self.journal.clear_flags(HaltCause.REDUCING.value)
            case events.OrderLost() | events.OrderUnresolved() | events.FenceForeignHedger():
                for key, why in self.executor.halted.items():
                    halt = Halt(
                        cause=HaltCause.INSTRUMENT,
                        subject=f"{key.venue}:{key.symbol}",
                        reason=why,
                        set_by=event.kind.value,
                    )
                    self.journal.set_halt(halt, ts_ms=now)
            case _:
                pass

    def _restore_flags(self) -> None:
        """Halts a previous run journaled hold again until an operator resumes."""
        flags = self.journal.flags()
        for flag in flags:
            halt = flag.halt
            if halt is None:
                continue
            match halt.cause:
                case HaltCause.OPERATOR:
                    self.gatekeeper.halt(halt.reason)
                case HaltCause.KILL_SWITCH:
                    self.gatekeeper.restore_kill_switch(halt.reason)
                case HaltCause.UNDERLYING:
                    self.gatekeeper.restore_underlying_halt(halt.subject, halt.reason)
                case HaltCause.REDUCING:
                    self.gatekeeper.restore_reducing(halt.reason, since_ms=flag.set_ms)
                case HaltCause.INSTRUMENT:
                    venue, _, symbol = halt.subject.partition(":")
                    self._restored_halts[InstrumentKey(venue, symbol)] = halt.reason
        if flags:
            self.notify(
                events.TradingRestored(
                    flags="; ".join(
                        f"{f.name} by {f.set_by} at {f.set_ms}: {f.reason}" for f in flags
                    )
                )
            )

    async def start(self) -> Engine:
        """Pass the start-up gates and build the engine (does not trade)."""
        settings = self.settings
        self.venues = venues = await open_venues(
            settings,
            mode=self.venue_mode,
            clock=self.clock,
            run_number=self._run_number,
            client_prefix=self._client_prefix,
            hooks=self._hooks,
        )
        self._wire_executor(venues)
        wanted = [
            InstrumentKey(venue, symbol)
            for venue, symbols in symbols_by_venue(settings).items()
            for symbol in symbols
        ]
        instruments = await load_instruments(list(venues.feeds.values()), wanted)
        legs = hedge_legs(settings, instruments)
        for account, broker in venues.brokers.items():
            self._spawn(f"stream.account.{account}", broker.stream(self.state))
            if self.mode == "live":  # only real orders can come from another hedger
                interval_s = settings.venues[settings.accounts[account].venue].fence_interval_s
                self._spawn(
                    f"fence.patrol.{account}",
                    patrol(broker, self.fence, clock=self.clock, interval_s=interval_s),
                )
        await reconcile_accounts(venues.brokers, self.state)
        adopted = await adopt_unfinished_orders(
            journal=self.journal,
            executor=self.executor,
            brokers=venues.brokers,
            state=self.state,
            clock=self.clock,
        )
        keys = set(wanted) | {
            p.key for s in self.state.accounts.values() for p in s.positions if p.amount
        }
        market_sink = SanityFilter(self.state, instruments=instruments, notify=self.notify)
        for venue, feed in venues.feeds.items():
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
            events.DaemonStarted(
                mode=self.mode,
                venues=",".join(sorted(venues.feeds)),
                underlyings=",".join(sorted(legs)),
                adopted_orders=adopted,
            )
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
                self.notify(events.DaemonFailed(error=type(exc).__name__, detail_text=str(exc)))
            raise
        finally:
            await self.shutdown()

    def halt(self, reason: str) -> None:
        """Operator: halt all trading until resumed."""
        self.gatekeeper.halt(reason)
        self.notify(events.OperatorHalt(reason=reason))

    def resume(self) -> None:
        """Operator: resume trading (lifts halts, the kill switch and lost-order halts)."""
        self.gatekeeper.resume()
        self._restored_halts.clear()
        if self._executor is not None and self._fence is not None:
            self._executor.resume()
            self._fence.fenced.clear()
        self.notify(events.OperatorResume())

    def flatten(self) -> str:
        """Operator: halt, then close every hedge position."""
        if self.engine is None:
            return "not started yet"
        self.gatekeeper.halt("flattening hedges")
        halt = Halt(cause=HaltCause.OPERATOR, reason="flattening hedges", set_by="operator")
        self.journal.set_halt(halt, ts_ms=self.clock.now_ms())
        return self.engine.request_flatten()

    async def shutdown(self) -> None:
        """Stop hedging: finish sends in progress, cancel resting orders, stop streams.

        Every step is bounded, so a venue that stops answering cannot keep the process from
        exiting (systemd would otherwise kill it, and its journal would not be closed cleanly).
        """
        if self._executor is not None:
            await _bounded("drain sends", self._executor.drain(), 15.0)
            if self.settings.on_shutdown == "cancel":
                await _bounded("cancel resting orders", self._executor.cancel_all(), 10.0)
        await _bounded("stop streams", self.supervisor.close(5.0), 6.0)
        if self.venues is not None:
            await _bounded("close venues", self.venues.close(), 5.0)
        self.notify(events.DaemonStopped(mode=self.mode))
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
    spec = next(u for u in sim_underlyings(settings) if u.name == chosen)
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

    specs = {u.name: u for u in sim_underlyings(settings)}
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
