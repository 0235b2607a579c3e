"""The hedge loop: the async shell around the pure core.

Each turn reads the latest-value state, assesses risk (`risk.assess`), asks the policy
(`policy.decide`) and the gatekeeper (`gatekeeper`) per underlying, and hands orders to the
executor; then it services the executor (lookups, timeouts) and publishes a `TurnView` to the
observers (console, metrics, status). Start-up runs through the gates in `startup` first.

Per underlying and turn, in that order: `_valuation` (can the book be valued, do our deltas agree
with the venue's), the policy's `Decision` (its `ReasonCode` is what the engine branches and
journals on, never its sentence), `_gate` (the gatekeeper's veto, the executor's send, the row's
typed `UnderlyingStatus`) and `_view` (the row). What happens is told as typed events
(`hedgebot.model.events`) through one `EventSink`.

Modes are invisible here: the composition root (`app`) hands in a clock, feeds and brokers.
The loop is the only driver of simulated time. It must not block on alerts, metrics or I/O
other than the executor's venue calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from hedgebot.clock import Clock
from hedgebot.core.basis import cross_venue_basis
from hedgebot.core.greeks_check import Divergence, DivergenceLevel, GreeksTolerance, compare_deltas
from hedgebot.core.margin_model import MarginModel
from hedgebot.core.policy import Action, Decision, PolicyInputs, decide
from hedgebot.core.revalue import equity_of, revalue
from hedgebot.core.risk import (
    AccountBook,
    BookSnapshot,
    CompiledBook,
    RiskReport,
    UnderlyingRisk,
    compile_book,
    evaluate,
    refresh_collateral,
)
from hedgebot.core.run_stats import BandTracker, RunSummary, UnderlyingSummary
from hedgebot.core.stress import LineStress, StressScenario, account_stress
from hedgebot.core.term_risk import term_risk
from hedgebot.core.units import amount_unit, futures_delta, lot_in_coin
from hedgebot.daemon.executor import Executor, HedgeLeg
from hedgebot.daemon.journal import Journal
from hedgebot.daemon.state import BookState
from hedgebot.model import events
from hedgebot.model.account import AccountSnapshot, MarginState
from hedgebot.model.instruments import Instrument, InstrumentKey
from hedgebot.model.market import Quote
from hedgebot.model.trading import ReasonCode, TradingState, UnderlyingStatus
from hedgebot.model.view import AccountView, TradingDetail, TurnView, UnderlyingView

log = structlog.get_logger("hedgebot.daemon.engine")

TURN_STOP_GRACE_S = 3.0
"""How long a turn in progress may still run once the daemon was told to stop."""


class TurnObserver(Protocol):
    """Receives the book after each turn (console, metrics, status endpoint)."""

    def on_turn(self, view: TurnView) -> None:
        """Called once per turn; must return quickly."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCheck:
    """What the gatekeeper is asked about one proposed hedge."""

    leg: HedgeLeg
    now_ms: int
    order_delta: float
    price: float
    hedge_position: float
    net_delta: float
    market_age_s: float
    account_age_s: float
    margin: MarginState | None = None
    """The account's margin in the hedge instrument's settlement currency, if reported."""


class GatePort(Protocol):
    """Guards and trading state: may this hedge be sent now?"""

    def veto(self, check: OrderCheck) -> str | None:
        """A sentence saying why not, or None to allow."""
        ...

    def sent(self, check: OrderCheck) -> None:
        """The order was handed to the executor."""
        ...

    def unsent(self, check: OrderCheck) -> None:
        """The venue refused that order before placing it (its notional stops counting)."""
        ...

    def after_turn(
        self, risk: RiskReport, accounts: Sequence[AccountView], now_ms: int
    ) -> TradingState:
        """Update risk-based state (kill switch, margin) and return the trading state."""
        ...

    @property
    def trading_detail(self) -> TradingDetail:
        """The trading state with its reason, origin and time."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSpec:
    """Static facts about one configured account."""

    venue: str
    count_collateral: bool


@dataclass(slots=True)
class _Underlying:
    tracker: BandTracker = field(default_factory=BandTracker)
    last_hedge_ms: int | None = None
    last_code: ReasonCode | None = None
    """The code of the last journaled decision (holds are journaled when it changes)."""
    unvalued: bool = False
    """`risk.unvalued` was sent and `risk.valued` not yet."""


@dataclass(frozen=True, slots=True)
class _Valued:
    """An underlying whose book can be valued this turn."""

    risk: UnderlyingRisk
    quote: Quote
    """The hedge instrument's quote (a positive mark price)."""


@dataclass(frozen=True, slots=True)
class _Unvalued:
    """Why an underlying cannot be valued this turn: it holds."""

    code: ReasonCode
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Gated:
    """The decision after the gatekeeper, and the row's trading status."""

    decision: Decision
    status: UnderlyingStatus
    trading: str
    """The status for the operator to read: "active", or why not."""


class Engine:
    """Runs the hedge loop until told to stop."""

    def __init__(
        self,
        *,
        mode: str,
        clock: Clock,
        state: BookState,
        executor: Executor,
        journal: Journal,
        gatekeeper: GatePort,
        legs: Mapping[str, HedgeLeg],
        accounts: Mapping[str, AccountSpec],
        instruments: Mapping[InstrumentKey, Instrument],
        observers: Sequence[TurnObserver],
        notify: events.EventSink,
        loop_interval_s: float,
        risk_snapshot_interval_s: float = 60.0,
        stress: StressScenario | None = None,
        margin_models: Mapping[str, MarginModel] | None = None,
        greeks_tolerance: GreeksTolerance | None = None,
        vega_limits: Mapping[str, float] | None = None,
    ) -> None:
        self.mode = mode
        self.clock = clock
        self.state = state
        self.executor = executor
        self.journal = journal
        self.gatekeeper = gatekeeper
        self.legs = legs
        self.accounts = accounts
        self.instruments = instruments
        self.observers = list(observers)
        self.notify = notify
        self.loop_interval_s = loop_interval_s
        self.risk_snapshot_ms = int(risk_snapshot_interval_s * 1000)
        self.stress = stress
        """Scenario each account's MM/equity and top-up are projected under (None: not)."""
        self.margin_models = margin_models
        self.greeks_tolerance = greeks_tolerance
        """Venue-vs-our delta check (None: off): WARN alerts, HOLD holds the underlying."""
        self._diverging: dict[str, tuple[Divergence, ...]] = {}
        self.vega_limits = dict(vega_limits or {})
        """|vega| per expiry, USD per vol point, by underlying: beyond it, one alert per episode."""
        self._vega_breaches: set[tuple[str, str]] = set()
        self.wake = asyncio.Event()
        self.last_view: TurnView | None = None
        self.last_turn_ms: int | None = None
        self.trading_state = TradingState.ACTIVE
        self._per: dict[str, _Underlying] = {u: _Underlying() for u in legs}
        self._next_risk_ms = 0
        self._flatten_requested = False
        self._compiled: CompiledBook | None = None
        self._compiled_from: tuple[AccountSnapshot, ...] = ()
        self._started_ms = clock.now_ms()
        self._sent_checks: dict[str, OrderCheck] = {}
        """Checks of orders sent within the last hour, by client id (to uncount refused ones)."""
        self._read_quotes: dict[str, tuple[AccountSnapshot, dict[InstrumentKey, Quote]]] = {}
        """Per account: the snapshot in use and the quotes of its positions when it arrived."""
        self.revalue_drift: dict[str, dict[str, float]] = {}
        """Per account and currency: revalued minus venue-reported equity at the last read."""

    async def loop(self, stop: asyncio.Event, *, stop_at_ms: int | None = None) -> None:
        """Turn until `stop` is set or the clock reaches `stop_at_ms`."""
        while not stop.is_set():
            if stop_at_ms is not None and self.clock.now_ms() >= stop_at_ms:
                break
            if not await self._turn_or_stop(stop):
                break
            await self.clock.wait(self.wake, self.loop_interval_s)

    async def _turn_or_stop(self, stop: asyncio.Event) -> bool:
        """One turn; if `stop` is set while it waits on a venue (a lookup being retried), the
        turn gets `TURN_STOP_GRACE_S` to finish and is then abandoned, so a stop request is
        always answered in bounded time. False when the turn was abandoned."""
        turn = asyncio.ensure_future(self.turn())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({turn, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not turn.done():
                await asyncio.wait({turn}, timeout=TURN_STOP_GRACE_S)
            if not turn.done():
                turn.cancel()
                log.warning("engine.turn_abandoned", grace_s=TURN_STOP_GRACE_S)
                return False
            turn.result()  # a turn that raised stops the loop with its error
            return True
        finally:
            stopping.cancel()

    async def turn(self) -> TurnView:
        """One pass: risk, decisions, orders, executor service, observers."""
        started = time.perf_counter()
        now = self.clock.now_ms()
        report = self._assess(now)
        self._check_greeks(report)
        self._check_vega(report)
        accounts = self._account_views()
        self.trading_state = self.gatekeeper.after_turn(report, accounts, now)
        if self._flatten_requested:
            self._flatten_step()
        rows = {}
        for underlying, leg in self.legs.items():
            sent = self.executor.stats.orders.get(underlying, 0)
            rows[underlying] = self._hedge_underlying(underlying, leg, report, now)
            if self.executor.stats.orders.get(underlying, 0) != sent:
                await asyncio.sleep(0)  # let the send start now, not after the whole turn
        latency = time.perf_counter() - started
        await self.executor.service(
            {leg.instrument.key: leg.order_timeout_ms for leg in self.legs.values()}
        )
        self._uncount_unplaced(now)
        view = TurnView(
            now_ms=now,
            mode=self.mode,
            trading_state=self.trading_state,
            underlyings=rows,
            accounts=tuple(accounts),
            decision_latency_s=latency,
            trading_reason=self.gatekeeper.trading_detail.reason,
            trading_origin=self.gatekeeper.trading_detail.origin,
            trading_since_ms=self.gatekeeper.trading_detail.since_ms,
        )
        if now >= self._next_risk_ms:
            self._journal_risk(view)
            self._next_risk_ms = now + self.risk_snapshot_ms
        self.last_view = view
        self.last_turn_ms = now
        for observer in self.observers:
            observer.on_turn(view)
        return view

    def _uncount_unplaced(self, now: int) -> None:
        """Creates the venue refused unplaced (rate limits, rejects) give back their notional
        budget; rejects still count towards the consecutive-reject halt."""
        for client_id in self.executor.take_unplaced():
            check = self._sent_checks.pop(client_id, None)
            if check is not None:
                self.gatekeeper.unsent(check)
        for client_id, check in list(self._sent_checks.items()):
            if now - check.now_ms > 3_600_000:
                del self._sent_checks[client_id]

    def request_flatten(self) -> str:
        """Operator: close every hedge position with reduce-only orders, one lot-rounded order
        of at most max_order per instrument and turn, until flat. Hedging is halted first."""
        self._flatten_requested = True
        legs = ", ".join(str(leg.instrument.key) for leg in self.legs.values())
        return f"flattening hedge positions in {legs}; trading halted until resumed"

    def _flatten_step(self) -> None:
        remaining = 0
        for leg in self.legs.values():
            key = leg.instrument.key
            quote = self.state.quotes.get(key)
            if quote is None:
                remaining += 1
                continue
            amount = self.state.position(leg.account, key) + self.executor.in_flight(key)
            coins = futures_delta(leg.instrument, amount, quote.mark_price)
            if abs(amount) < leg.instrument.contract_size:
                continue
            remaining += 1
            if self.executor.blocking_reason(key) is None:
                size = min(abs(coins), leg.rule.max_order)
                delta = -size if coins > 0 else size
                self.executor.place(leg, order_delta=delta, quote=quote, reduce_only=True)
        if remaining == 0:
            self._flatten_requested = False
            self.notify(events.HedgesFlattened(legs=len(self.legs)))

    def _margin_of(self, leg: HedgeLeg) -> MarginState | None:
        snapshot = self.state.accounts.get(leg.account)
        if snapshot is None:
            return None
        wanted = leg.underlying if leg.instrument.is_inverse else None
        for margin in snapshot.margin:
            if margin.currency == wanted or (wanted is None and margin.currency != leg.underlying):
                return margin
        return None

    def account_books(self) -> list[AccountBook]:
        """The configured accounts as the risk module sees them: the newest snapshots, their
        coin equity revalued to the current marks (`hedgebot.core.revalue`)."""
        return [
            AccountBook(
                account=name,
                positions=snapshot.positions,
                collateral=snapshot.collateral,
                margin=snapshot.margin,
                count_collateral=spec.count_collateral,
            )
            for name, spec in self.accounts.items()
            if (snapshot := self._revalued(name, spec.count_collateral)) is not None
        ]

    def _revalued(self, account: str, counted: bool) -> AccountSnapshot | None:
        snapshot = self.state.accounts.get(account)
        if snapshot is None or not counted:
            return snapshot  # equity is not delta where collateral does not count
        held = self._read_quotes.get(account)
        if held is None or held[0] is not snapshot:
            if held is not None:
                self._check_drift(account, held, snapshot)
            marks = {p.key: q for p in snapshot.positions if (q := self.state.quotes.get(p.key))}
            held = self._read_quotes[account] = (snapshot, marks)
        return revalue(
            snapshot, instruments=self.instruments, read_quotes=held[1], quotes=self.state.quotes
        )

    def _check_drift(
        self,
        account: str,
        held: tuple[AccountSnapshot, dict[InstrumentKey, Quote]],
        fresh: AccountSnapshot,
    ) -> None:
        """Log how far the revalued equity was from the equity the venue now reports."""
        carried = revalue(
            held[0], instruments=self.instruments, read_quotes=held[1], quotes=self.state.quotes
        )
        drift = self.revalue_drift.setdefault(account, {})
        for margin in fresh.margin:
            before = equity_of(carried.margin, margin.currency)
            if before is not None and before != margin.equity:
                drift[margin.currency] = before - margin.equity
                log.debug(
                    "revalue.checked",
                    account=account,
                    currency=margin.currency,
                    revalued=before,
                    reported=margin.equity,
                    difference=before - margin.equity,
                )

    def index_prices(self) -> dict[str, float]:
        """The newest index price of every underlying."""
        return {u: i.price for u, i in self.state.index.items()}

    def _assess(self, now: int) -> RiskReport:
        snapshots = tuple(
            self.state.accounts[name] for name in self.accounts if name in self.state.accounts
        )
        books = self.account_books()
        stale = self._compiled is None or len(snapshots) != len(self._compiled_from)
        if stale or any(a is not b for a, b in zip(snapshots, self._compiled_from, strict=True)):
            self._compiled = compile_book(books, self.instruments, previous=self._compiled)
            self._compiled_from = snapshots
        else:  # same positions: only the revalued equity moved
            assert self._compiled is not None
            self._compiled = refresh_collateral(self._compiled, books)
        assert self._compiled is not None
        return evaluate(
            self._compiled, quotes=self.state.quotes, index_prices=self.index_prices(), now_ms=now
        )

    def _hedge_underlying(
        self, underlying: str, leg: HedgeLeg, report: RiskReport, now: int
    ) -> UnderlyingView:
        """One underlying's turn: can it be valued, what does the policy decide, may the hedge
        be sent, and the row the operator sees."""
        valued = self._valuation(underlying, leg, report)
        if isinstance(valued, _Unvalued):
            return self._hold_view(underlying, leg, valued)
        per = self._per[underlying]
        if per.unvalued:
            per.unvalued = False
            self.notify(events.RiskValued(underlying=underlying))
        inputs = self._policy_inputs(underlying, leg, valued, now)
        decision = decide(leg.rule, inputs)
        self._observe(
            underlying=underlying, leg=leg, valued=valued, inputs=inputs, decision=decision, now=now
        )
        gated = self._gate(
            underlying=underlying, leg=leg, valued=valued, inputs=inputs, decision=decision, now=now
        )
        self._journal_decision(underlying, per, gated.decision, inputs.net_delta, now)
        return self._view(underlying, leg, valued, inputs, gated)

    def _valuation(self, underlying: str, leg: HedgeLeg, report: RiskReport) -> _Valued | _Unvalued:
        """The underlying's risk, hedge quote and price, or why it cannot be valued (hold)."""
        risk = report.underlyings.get(underlying)
        key = leg.instrument.key
        quote = self.state.quotes.get(key)
        unknown = report.underlyings.get("?")
        if unknown is not None:
            return _Unvalued(
                ReasonCode.UNVALUED, f"cannot value the book: {', '.join(unknown.missing)}"
            )
        held = [d for d in self._diverging.get(underlying, ()) if d.level is DivergenceLevel.HOLD]
        if held:
            reason = "deltas diverge from the venue's: " + "; ".join(d.describe() for d in held)
            return _Unvalued(ReasonCode.DELTAS_DIVERGE, reason)
        if risk is None or quote is None or not risk.complete or risk.price <= 0:
            missing = ", ".join(risk.missing) if risk else "no index price"
            reason = f"cannot value the book: {missing or 'no quote for ' + str(key)}"
            return _Unvalued(ReasonCode.UNVALUED, reason)
        if not quote.mark_price > 0:
            return _Unvalued(ReasonCode.UNVALUED, f"cannot value the book: {key} has no mark price")
        return _Valued(risk=risk, quote=quote)

    def _policy_inputs(
        self, underlying: str, leg: HedgeLeg, valued: _Valued, now: int
    ) -> PolicyInputs:
        """What the policy sees: the book's delta with hedges in flight, in coin."""
        key, mark = leg.instrument.key, valued.quote.mark_price
        in_flight = futures_delta(leg.instrument, self.executor.in_flight(key), mark)
        position = futures_delta(leg.instrument, self.state.position(leg.account, key), mark)
        return PolicyInputs(
            underlying=underlying,
            now_ms=now,
            net_delta=valued.risk.net_delta + in_flight,
            gross_delta=valued.risk.gross_delta,
            gamma=valued.risk.gamma,
            price=valued.risk.price,
            hedge_position=position + in_flight,
            lot=lot_in_coin(leg.instrument, mark),
            order_in_flight=self.executor.blocking_reason(key) is not None,
            last_hedge_ms=self._per[underlying].last_hedge_ms,
        )

    def _observe(
        self,
        *,
        underlying: str,
        leg: HedgeLeg,
        valued: _Valued,
        inputs: PolicyInputs,
        decision: Decision,
        now: int,
    ) -> None:
        """Feed the live P&L and the time-outside-band tracker."""
        risk = valued.risk
        position = self._hedge_coin(leg, valued)
        self.executor.stats.pnl(underlying).observe(
            now_ms=now,
            price=risk.price,
            book_delta=risk.net_delta - position,
            gamma=risk.gamma,
            hedge_position=position,
            options=risk.options,
        )
        outside = abs(risk.net_delta - leg.rule.target) > decision.band
        self._per[underlying].tracker.observe(now, outside=outside)

    def _hedge_coin(self, leg: HedgeLeg, valued: _Valued) -> float:
        """The hedge position the venue reports, as coin delta."""
        key = leg.instrument.key
        amount = self.state.position(leg.account, key)
        return futures_delta(leg.instrument, amount, valued.quote.mark_price)

    def _gate(
        self,
        *,
        underlying: str,
        leg: HedgeLeg,
        valued: _Valued,
        inputs: PolicyInputs,
        decision: Decision,
        now: int,
    ) -> _Gated:
        """Ask the gatekeeper about a hedge the policy wants and hand it to the executor; the
        row's status either way (a halt or REDUCING applies whether or not a hedge is wanted)."""
        key = leg.instrument.key
        status, trading = UnderlyingStatus.of(self.trading_state), self.trading_state.value
        instrument_halt = self.executor.halted.get(key)
        if instrument_halt is not None:  # a lost order, another hedger: /status says why
            status, trading = UnderlyingStatus.INSTRUMENT_HALTED, f"halted: {instrument_halt}"
        if decision.action is not Action.HEDGE:
            return _Gated(decision=decision, status=status, trading=trading)
        check = OrderCheck(
            leg=leg,
            now_ms=now,
            order_delta=decision.order_delta,
            price=valued.risk.price,
            hedge_position=inputs.hedge_position,
            net_delta=inputs.net_delta,
            market_age_s=max(self.state.quote_age_s(key), self.state.index_age_s(underlying)),
            account_age_s=self.state.account_age_s(leg.account),
            margin=self._margin_of(leg),
        )
        veto = self.gatekeeper.veto(check)
        if veto is not None:
            refused = _held(decision, f"guard: {veto}", ReasonCode.GUARD_REFUSED)
            return _Gated(decision=refused, status=UnderlyingStatus.REFUSED, trading=veto)
        log.info(  # before the executor's hedge.submitted: decided, then sent
            "hedge.decided",
            underlying=underlying,
            order_coin=round(decision.order_delta, 8),
            reason=decision.reason,
        )
        request = self.executor.place(leg, order_delta=decision.order_delta, quote=valued.quote)
        if request is not None:
            self.gatekeeper.sent(check)
            self._sent_checks[request.client_id] = check
            self._per[underlying].last_hedge_ms = now
        return _Gated(decision=decision, status=status, trading=trading)

    def _view(
        self,
        underlying: str,
        leg: HedgeLeg,
        valued: _Valued,
        inputs: PolicyInputs,
        gated: _Gated,
    ) -> UnderlyingView:
        """The row the operator sees for a valued underlying."""
        key, risk, quote = leg.instrument.key, valued.risk, valued.quote
        others = [
            i
            for (venue, name), i in self.state.venue_index.items()
            if name == underlying and venue != key.venue
        ]
        reference = max(others, key=lambda i: i.timestamp_ms) if others else None
        basis = cross_venue_basis(
            hedge_venue=key.venue,
            hedge_price=quote.mark_price,
            reference_venue=None if reference is None else reference.venue,
            reference_price=None if reference is None else reference.price,
        )
        stats = self.executor.stats
        return UnderlyingView(
            underlying=underlying,
            price=risk.price,
            net_delta=risk.net_delta,
            delta_with_in_flight=inputs.net_delta,
            target=leg.rule.target,
            band=gated.decision.band,
            gamma=risk.gamma,
            vega=risk.vega,
            hedge_instrument=str(key),
            hedge_orders=stats.orders.get(underlying, 0),
            fills=stats.fills.get(underlying, 0),
            decision=gated.decision.reason,
            decision_code=gated.decision.code,
            trading=gated.trading,
            status=gated.status,
            fees_usd=stats.fees_usd.get(underlying, 0.0),
            rebates_usd=stats.rebates_usd.get(underlying, 0.0),
            hedge_position=self.state.position(leg.account, key),
            hedge_position_unit=amount_unit(leg.instrument),
            hedge_position_coin=self._hedge_coin(leg, valued),
            pnl=stats.pnl(underlying).to_dict(),
            basis_bps=basis,
        )

    def _hold_view(self, underlying: str, leg: HedgeLeg, unvalued: _Unvalued) -> UnderlyingView:
        per = self._per[underlying]
        if not per.unvalued:
            self.notify(events.RiskUnvalued(underlying=underlying, reason=unvalued.reason))
            per.unvalued = True
        per.last_code = unvalued.code
        return UnderlyingView(
            underlying=underlying,
            price=0.0,
            net_delta=0.0,
            delta_with_in_flight=0.0,
            target=leg.rule.target,
            band=0.0,
            gamma=0.0,
            vega=0.0,
            hedge_instrument=str(leg.instrument.key),
            hedge_orders=self.executor.stats.orders.get(underlying, 0),
            fills=self.executor.stats.fills.get(underlying, 0),
            decision=unvalued.reason,
            decision_code=unvalued.code,
            trading="waiting for data",
            status=UnderlyingStatus.WAITING_FOR_DATA,
            fees_usd=self.executor.stats.fees_usd.get(underlying, 0.0),
            rebates_usd=self.executor.stats.rebates_usd.get(underlying, 0.0),
        )

    def _journal_decision(
        self, underlying: str, per: _Underlying, decision: Decision, net_delta: float, now: int
    ) -> None:
        """Journal every hedge, and a hold when its reason code changes."""
        if decision.action is Action.HOLD and decision.code is per.last_code:
            return
        per.last_code = decision.code
        self.journal.record_decision(
            ts_ms=now,
            underlying=underlying,
            action=decision.action.value,
            order_delta=decision.order_delta,
            net_delta=net_delta,
            target=decision.target,
            band=decision.band,
            reason=decision.reason,
        )

    def _journal_risk(self, view: TurnView) -> None:
        for name, row in view.underlyings.items():
            if row.price > 0:
                self.journal.record_risk(
                    ts_ms=view.now_ms,
                    underlying=name,
                    price=row.price,
                    net_delta=row.net_delta,
                    gamma=row.gamma,
                    vega=row.vega,
                    target=row.target,
                    band=row.band,
                )

    def _check_vega(self, report: RiskReport) -> None:
        """Notify once when an expiry's |vega| first exceeds its underlying's limit."""
        if not self.vega_limits:
            return
        rows = term_risk(
            report=report,
            instruments=self.instruments,
            quotes=self.state.quotes,
            vega_limits=self.vega_limits,
        )
        breached = {(r.underlying, r.expiry): r for r in rows if r.vega_breached}
        for underlying in {u for u, _ in self._vega_breaches} - {u for u, _ in breached}:
            self.notify(events.VegaLimitCleared(underlying=underlying))
        for key, row in breached.items():
            if key not in self._vega_breaches:
                self.notify(
                    events.VegaLimitExceeded(
                        underlying=row.underlying,
                        expiry=row.expiry,
                        vega_usd_per_vol_point=f"{row.vega:.2f}",
                        limit=f"{row.vega_limit:.2f}",
                    )
                )
        self._vega_breaches = set(breached)

    def _check_greeks(self, report: RiskReport) -> None:
        """Compare our position deltas with the venue's; alert once per episode and underlying."""
        if self.greeks_tolerance is None:
            return
        books = self.account_books()
        found: dict[str, list[Divergence]] = {}
        if any(p.venue_delta is not None for b in books for p in b.positions):
            for d in compare_deltas(books=books, report=report, tolerance=self.greeks_tolerance):
                found.setdefault(d.underlying, []).append(d)
        for underlying in set(self._diverging) - set(found):
            self.notify(events.GreeksAgreed(underlying=underlying))
        for underlying, rows in found.items():
            if underlying not in self._diverging:
                level = (
                    DivergenceLevel.HOLD
                    if any(d.level is DivergenceLevel.HOLD for d in rows)
                    else DivergenceLevel.WARN
                )
                self.notify(
                    events.GreeksDivergence(
                        underlying=underlying,
                        level=level.value,
                        detail_text="; ".join(d.describe() for d in rows),
                    )
                )
        self._diverging = {u: tuple(rows) for u, rows in found.items()}

    def _account_views(self) -> list[AccountView]:
        views = []
        stressed = self._stressed()
        for name, snapshot in self.state.accounts.items():
            age = self.state.account_age_s(name)
            for margin in snapshot.margin:
                line = stressed.get((name, margin.currency))
                views.append(
                    AccountView(
                        account=name,
                        venue=snapshot.venue,
                        currency=margin.currency,
                        equity=margin.equity,
                        initial_margin=margin.initial_margin,
                        maintenance_margin=margin.maintenance_margin,
                        available=margin.available,
                        maintenance_ratio=margin.maintenance_ratio,
                        data_age_s=age,
                        stress_ratio=None if line is None else line.maintenance_ratio,
                        top_up=None if line is None else line.top_up,
                        top_up_usd=None if line is None else line.top_up_usd,
                        stress_scenario="" if line is None else line.scenario.describe(),
                    )
                )
        return views

    def _stressed(self) -> Mapping[tuple[str, str], LineStress]:
        if self.stress is None:
            return {}
        try:
            return account_stress(
                BookSnapshot(
                    books=self.account_books(),
                    instruments=self.instruments,
                    quotes=self.state.quotes,
                    index_prices=self.index_prices(),
                    now_ms=self.clock.now_ms(),
                ),
                scenario=self.stress,
                margin_models=self.margin_models,
            )
        except ValueError as exc:  # a book that cannot be valued: alert on today's figures
            log.warning("margin.stress_unavailable", error=str(exc))
            return {}

    def summary(self, *, journal_path: str) -> RunSummary:
        """End-of-run figures per underlying."""
        now = self.clock.now_ms()
        rows: dict[str, UnderlyingSummary] = {}
        view = self.last_view
        for underlying, per in self._per.items():
            per.tracker.observe(now, outside=per.tracker.last_outside)
            row = view.underlyings.get(underlying) if view else None
            fees = self.executor.stats.fees.get(underlying, {})
            price = row.price if row else 0.0
            rows[underlying] = UnderlyingSummary(
                price=price,
                net_delta=row.net_delta if row else 0.0,
                net_delta_usd=(row.net_delta * price) if row else 0.0,
                target=self.legs[underlying].rule.target,
                band=row.band if row else 0.0,
                hedge_orders=self.executor.stats.orders.get(underlying, 0),
                fills=self.executor.stats.fills.get(underlying, 0),
                rejects=self.executor.stats.rejects.get(underlying, 0),
                time_outside_band=per.tracker.share_outside,
                fees=dict(fees),
                fees_usd=sum(v * (price if c == underlying else 1.0) for c, v in fees.items()),
                pnl=self.executor.stats.pnl(underlying).to_dict(),
            )
        return RunSummary(
            mode=self.mode,
            started_ms=self._started_ms,
            ended_ms=now,
            underlyings=rows,
            journal=journal_path,
        )


def _held(decision: Decision, reason: str, code: ReasonCode) -> Decision:
    return Decision(
        underlying=decision.underlying,
        action=Action.HOLD,
        order_delta=0.0,
        target=decision.target,
        band=decision.band,
        gap=decision.gap,
        reason=reason,
        code=code,
    )
