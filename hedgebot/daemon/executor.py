"""The executor: turns hedge decisions into venue orders, at most one in flight per instrument.

Owns the live `TrackedOrder`s (state machine in `hedgebot.core.lifecycle`), their journal records
and the rules that keep a hedge from being sent twice:

* every order has a unique client id, and its intent is committed to the journal before it is
  sent;
* an order counts as *in flight* (its signed amount added to the delta the policy sees) from the
  intent until it is settled by `hedgebot.core.settlement`'s rule: terminal, and an account state
  whose parts were all *requested* after its last fill was known has been seen;
* a create is never retried: one without a definite answer is UNKNOWN and is looked up by client
  id, in a bounded search; not found, it is LOST and its instrument halts until an operator
  resumes it;
* fills are applied once per trade id, including late fills of cancelled or lost orders;
* an order whose fate is unknown is chased over REST by client id (a cancel unconfirmed after
  `chase_after_ms`, a live order past its timeout whose cancel could not be sent) until its
  final state is known; one still unresolved after
  `unresolved_after_ms` halts its instrument and raises `order.unresolved`.

It must not decide what to trade (`policy`) or whether trading is allowed (`guards`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from hedgebot.clock import Clock
from hedgebot.core.lifecycle import (
    CancelRequested,
    Event,
    FillApplied,
    FoundByLookup,
    LookupMissed,
    NotFoundAfterSearch,
    OrderState,
    Rejected,
    Submitted,
    SubmitTimedOut,
    TrackedOrder,
    VenueStatus,
    apply,
)
from hedgebot.core.pnl import LiveAttribution, slippage_bps
from hedgebot.core.policy import HedgeRule
from hedgebot.core.run_stats import fee_usd
from hedgebot.core.settlement import Settlement, in_flight_signed, is_settled
from hedgebot.core.units import amount_unit, coin_to_amount, futures_delta
from hedgebot.daemon.journal import Journal
from hedgebot.daemon.state import OrderListener
from hedgebot.model import events
from hedgebot.model.errors import OrderNotPlaced, OrderOutcomeUnknown, OrderRejected, VenueError
from hedgebot.model.instruments import Instrument, InstrumentKey
from hedgebot.model.market import Quote
from hedgebot.model.orders import Fill, OrderRequest, OrderUpdate, Side
from hedgebot.venues.ports import Broker

log = structlog.get_logger("hedgebot.daemon.executor")


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgeLeg:
    """How one underlying is hedged: which account trades which instrument, under which rule."""

    underlying: str
    account: str
    instrument: Instrument
    rule: HedgeRule
    slippage_bps: float
    order_timeout_ms: int


@dataclass(slots=True)
class _Active:
    order: TrackedOrder
    underlying: str
    settlement: Settlement = field(default_factory=Settlement)
    next_lookup_ms: int = 0
    lookup_errors: int = 0
    task: asyncio.Task[None] | None = None
    chase_since_ms: int | None = None
    """When hedgebot started looking this order up because its fate was unknown."""
    next_chase_ms: int = 0
    adopted: bool = False
    """Found in the journal at start-up (its create may never have been sent)."""


@dataclass(slots=True)
class ExecutionStats:
    """Counts per underlying, for the summary and metrics."""

    orders: dict[str, int] = field(default_factory=dict)
    fills: dict[str, int] = field(default_factory=dict)
    fees: dict[str, dict[str, float]] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    fees_usd: dict[str, float] = field(default_factory=dict)
    """Fees paid, in USD at each fill's price (`hedgebot.core.run_stats.fee_usd`)."""
    rebates_usd: dict[str, float] = field(default_factory=dict)
    """Rebates (negative fees) earned, in USD at each fill's price, as a positive amount."""
    attribution: dict[str, LiveAttribution] = field(default_factory=dict)
    """Live P&L per underlying: the executor adds fills, the engine each turn's moves."""

    def pnl(self, underlying: str) -> LiveAttribution:
        """The underlying's live attribution (created empty on first use)."""
        return self.attribution.setdefault(underlying, LiveAttribution())


class Executor(OrderListener):
    """Places, tracks and reconciles hedge orders."""

    def __init__(
        self,
        *,
        clock: Clock,
        journal: Journal,
        brokers: Mapping[str, Broker],
        client_prefix: str,
        observer: events.EventSink,
        max_lookups: int = 5,
        lookup_interval_ms: int = 1000,
        chase_after_ms: int = 2000,
        unresolved_after_ms: int = 20_000,
    ) -> None:
        self._clock = clock
        self._journal = journal
        self._brokers = brokers
        self._prefix = client_prefix
        self._observer = observer
        self._max_lookups = max_lookups
        self._lookup_interval_ms = lookup_interval_ms
        self._chase_after_ms = chase_after_ms
        self._unresolved_after_ms = unresolved_after_ms
        self._sequence = len(journal.client_ids_with_prefix(client_prefix))
        self._active: dict[str, _Active] = {}
        self._finished: dict[str, TrackedOrder] = {}
        self._missing_fills: dict[str, int] = {}
        """Settled orders whose trades did not all arrive (client id -> fetch attempts)."""
        self.halted: dict[InstrumentKey, str] = {}
        self.stats = ExecutionStats()
        self._unplaced: list[str] = []
        self._decided: dict[str, tuple[float, Instrument]] = {}
        """Mark price at decision time and instrument of each order this run placed."""

    # --- what the policy and guards see ---------------------------------------------------

    def in_flight(self, key: InstrumentKey) -> float:
        """Signed amount of `key` ordered but not yet in the venue's reported position."""
        return sum(
            (
                in_flight_signed(active.order, active.settlement)
                for active in self._active.values()
                if active.order.request.key == key
            ),
            0.0,
        )

    def blocking_reason(self, key: InstrumentKey) -> str | None:
        """Why no new order may be sent on `key` now, or None."""
        if key in self.halted:
            return f"halted: {self.halted[key]}"
        for active in self._active.values():
            if active.order.request.key == key:
                return f"order {active.order.client_id} is {active.order.state.value}"
        return None

    def take_unplaced(self) -> list[str]:
        """Client ids of creates the venue refused before placing them (rate limits, rejects),
        since the last call: they were sent, but never exposed anything."""
        unplaced, self._unplaced = self._unplaced, []
        return unplaced

    def live_orders(self) -> list[TrackedOrder]:
        """Orders not yet settled."""
        return [a.order for a in self._active.values()]

    # --- placing ----------------------------------------------------------------------------

    def place(
        self, leg: HedgeLeg, *, order_delta: float, quote: Quote, reduce_only: bool = False
    ) -> OrderRequest | None:
        """Journal and send one hedge order moving delta by `order_delta` coin; None if empty."""
        if self.blocking_reason(leg.instrument.key) is not None:
            raise RuntimeError(f"{leg.instrument.key} is blocked: the caller must check first")
        instrument = leg.instrument
        raw = coin_to_amount(instrument, abs(order_delta), quote.mark_price)
        amount = round(raw / instrument.contract_size) * instrument.contract_size
        if amount <= 0:
            return None
        side = Side.of(order_delta)
        now = self._clock.now_ms()
        self._sequence += 1
        request = OrderRequest(
            client_id=f"{self._prefix}{self._sequence}",
            account=leg.account,
            key=instrument.key,
            side=side,
            amount=amount,
            limit_price=hedge_limit_price(instrument, quote, side, leg.slippage_bps),
            reduce_only=reduce_only,
        )
        self._journal.record_intent(request, underlying=leg.underlying, ts_ms=now)
        active = _Active(order=TrackedOrder.pending(request, now_ms=now), underlying=leg.underlying)
        self._active[request.client_id] = active
        self._decided[request.client_id] = (quote.mark_price, instrument)
        self.stats.orders[leg.underlying] = self.stats.orders.get(leg.underlying, 0) + 1
        log.info(
            "hedge.submitted",
            underlying=leg.underlying,
            client_id=request.client_id,
            instrument=str(instrument.key),
            side=side.value,
            amount=amount,
            amount_unit=amount_unit(instrument),
            limit=request.limit_price,
        )
        active.task = asyncio.create_task(self._send(active, leg.order_timeout_ms))
        return request

    async def _send(self, active: _Active, timeout_ms: int) -> None:
        request = active.order.request
        broker = self._brokers[request.account]
        try:
            async with asyncio.timeout(timeout_ms / 1000):  # no extra task: the send starts now
                update = await broker.submit(request)
        except OrderNotPlaced as exc:
            self._unplaced.append(request.client_id)
            self._apply(active, Rejected(at_ms=self._clock.now_ms(), reason=str(exc)))
            log.warning("hedge.not_placed", client_id=request.client_id, reason=str(exc))
            self._observer(
                events.OrderNotPlaced(
                    underlying=active.underlying, client_id=request.client_id, reason=str(exc)
                )
            )
        except OrderRejected as exc:
            self._unplaced.append(request.client_id)  # refused: it never exposed anything
            self._apply(active, Rejected(at_ms=self._clock.now_ms(), reason=str(exc)))
            self.stats.rejects[active.underlying] = self.stats.rejects.get(active.underlying, 0) + 1
            self._observer(
                events.OrderRejected(
                    underlying=active.underlying, client_id=request.client_id, reason=str(exc)
                )
            )
        except (OrderOutcomeUnknown, VenueError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            self._apply(active, SubmitTimedOut(at_ms=self._clock.now_ms(), reason=reason))
            self._observer(
                events.OrderUnknown(
                    underlying=active.underlying, client_id=request.client_id, reason=reason
                )
            )
        else:
            if update.client_id == request.client_id:
                self._apply(active, Submitted(update=update, at_ms=self._clock.now_ms()))
                self._observer(events.OrderAccepted(underlying=active.underlying))

    def _attribute(self, underlying: str, fill: Fill, fee: float) -> None:
        """Add a fill's fee (USD) and slippage to the live P&L and journal its decision price,
        fill price and slippage (orders adopted from an earlier run have no decision price)."""
        decided = self._decided.get(fill.client_id)
        if decided is None:
            self.stats.pnl(underlying).add_fill(fee_usd=fee, slippage_usd=0.0, slippage=0.0)
            return
        decision_price, instrument = decided
        bps = slippage_bps(
            order_delta=fill.side.sign, decision_price=decision_price, fill_price=fill.price
        )
        coins = abs(futures_delta(instrument, fill.amount, fill.price))
        cost = coins * fill.side.sign * (fill.price - decision_price)
        self.stats.pnl(underlying).add_fill(fee_usd=fee, slippage_usd=cost, slippage=bps)
        self._journal.record_event(
            ts_ms=self._clock.now_ms(),
            kind="hedge.fill_cost",
            detail={
                "underlying": underlying,
                "client_id": fill.client_id,
                "trade_id": fill.trade_id,
                "decision_price": decision_price,
                "fill_price": fill.price,
                "slippage_bps": round(bps, 4),
                "slippage_usd": round(cost, 6),
                "fee_usd": round(fee, 6),
            },
        )

    # --- events from the venue --------------------------------------------------------------

    def on_order(self, update: OrderUpdate) -> None:
        """Apply a streamed order report to the order it names."""
        active = self._active.get(update.client_id)
        if active is not None:
            self._apply(active, VenueStatus.of(update, at_ms=self._clock.now_ms()))

    def on_fill(self, fill: Fill) -> None:
        """Journal a fill once and apply it to its order (late fills included)."""
        if not fill.client_id.startswith(self._prefix):
            return
        active = self._active.get(fill.client_id)
        if not self._journal.record_fill(fill):
            if active is not None and fill.trade_id not in active.order.applied_trade_ids:
                # journaled by a run that died before applying it: apply it, count it once
                self._apply(active, FillApplied.of(fill, at_ms=self._clock.now_ms()))
            log.info("fill.duplicate_ignored", trade_id=fill.trade_id, client_id=fill.client_id)
            return
        underlying = active.underlying if active else fill.key.symbol
        self.stats.fills[underlying] = self.stats.fills.get(underlying, 0) + 1
        fees = self.stats.fees.setdefault(underlying, {})
        fees[fill.fee_currency] = fees.get(fill.fee_currency, 0.0) + fill.fee
        usd = fee_usd(fill.fee, fill.fee_currency, underlying=underlying, price=fill.price)
        if usd >= 0:
            self.stats.fees_usd[underlying] = self.stats.fees_usd.get(underlying, 0.0) + usd
        else:
            self.stats.rebates_usd[underlying] = self.stats.rebates_usd.get(underlying, 0.0) - usd
        self._attribute(underlying, fill, usd)
        event = FillApplied.of(fill, at_ms=self._clock.now_ms())
        if active is not None:
            self._apply(active, event)
            return
        finished = self._finished.get(fill.client_id)
        if finished is not None:
            order = apply(finished, event)
            self._finished[fill.client_id] = order
            self._journal.record_order_state(
                order.client_id,
                state=order.state.value,
                filled=order.filled_amount,
                ts_ms=self._clock.now_ms(),
            )
            if order.filled_amount > finished.filled_amount:
                self._observer(events.OrderLateFill(client_id=fill.client_id, amount=fill.amount))

    def on_account_snapshot(self, account: str, timestamp_ms: int) -> None:
        """An account state of `account` whose fill-carrying parts were all requested at or after
        `timestamp_ms` is now the one the policy sees: the fills known before are contained."""
        for active in list(self._active.values()):
            if active.order.request.account == account:
                active.settlement = active.settlement.state_seen(timestamp_ms)
                self._retire_if_settled(active)

    def _apply(self, active: _Active, event: Event) -> None:
        before = active.order
        after = apply(before, event)
        active.order = after
        now = self._clock.now_ms()
        if after.filled_amount > before.filled_amount:
            active.settlement = active.settlement.fill_known(after.filled_amount, at_ms=now)
        if after.state is not before.state or after.filled_amount != before.filled_amount:
            self._journal.record_order_state(
                after.client_id,
                state=after.state.value,
                filled=after.filled_amount,
                ts_ms=now,
                venue_order_id=after.venue_order_id,
                reason=after.reason,
            )
        if after.state is OrderState.UNKNOWN and before.state is not OrderState.UNKNOWN:
            active.next_lookup_ms = now + self._lookup_interval_ms
        self._retire_if_settled(active)

    def _retire_if_settled(self, active: _Active) -> None:
        order = active.order
        if is_settled(order, active.settlement) and order.client_id in self._active:
            del self._active[order.client_id]
            self._finished[order.client_id] = order
            if order.traded_amount < order.filled_amount * (1 - 1e-9):
                self._missing_fills[order.client_id] = 0  # the venue says filled: fetch trades
            log.info(
                "hedge.settled",
                client_id=order.client_id,
                state=order.state.value,
                filled=order.filled_amount,
            )

    # --- periodic service: lookups, timeouts --------------------------------------------------

    async def service(self, timeouts_ms: Mapping[InstrumentKey, int]) -> None:
        """Look up UNKNOWN orders, cancel orders resting past their timeout, fetch missing fills."""
        await self._fetch_missing_fills()
        now = self._clock.now_ms()
        for active in list(self._active.values()):
            order = active.order
            if order.state is OrderState.UNKNOWN and now >= active.next_lookup_ms:
                await self._look_up(active)
            elif order.state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED):
                timeout = timeouts_ms.get(order.request.key, 10_000)
                if order.cancel_requested_ms is None and now - order.created_ms >= timeout:
                    await self._cancel(active)
                if self._fate_unknown(active.order, now, timeout):
                    await self._chase(active, now)

    def _fate_unknown(self, order: TrackedOrder, now: int, timeout_ms: int) -> bool:
        """A live order whose final state the streams should have told us by now."""
        if order.cancel_requested_ms is not None:
            return now - order.cancel_requested_ms >= self._chase_after_ms
        # past its timeout and its cancel could not even be sent (a stalled private stream
        # leaves a resting order silent: it reaches this point or a cancel, either way chased)
        return now - order.created_ms >= timeout_ms + self._chase_after_ms

    async def _chase(self, active: _Active, now: int) -> None:
        """Look a live order of unknown fate up over REST (by client id) until it is final;
        re-send its cancel if it still rests; halt its instrument once it stays unresolved."""
        if active.chase_since_ms is None:
            active.chase_since_ms = now
            log.info("order.chasing", client_id=active.order.client_id)
        if now < active.next_chase_ms:
            return
        active.next_chase_ms = now + self._lookup_interval_ms
        order = active.order
        try:
            found = await self._brokers[order.request.account].lookup(
                order.client_id, order.request.key
            )
        except VenueError as exc:
            log.warning("order.chase_failed", client_id=order.client_id, error=str(exc))
            found = None
        if found is not None:
            self._apply(active, FoundByLookup(update=found, at_ms=self._clock.now_ms()))
            log.info("order.found", client_id=order.client_id, status=found.status.value)
        if active.order.state.is_live and active.order.cancel_requested_ms is not None:
            await self._cancel(active, again=True)
        key = order.request.key
        if (
            active.order.state.is_live
            and now - active.chase_since_ms >= self._unresolved_after_ms
            and key not in self.halted
        ):
            reason = (
                f"order {order.client_id} unresolved after "
                f"{(now - active.chase_since_ms) / 1000:.0f} s of lookups"
            )
            self.halted[key] = reason
            log.error("order.unresolved", client_id=order.client_id, instrument=str(key))
            self._observer(
                events.OrderUnresolved(
                    underlying=active.underlying, client_id=order.client_id, reason=reason
                )
            )

    async def _fetch_missing_fills(self) -> None:
        """A venue report said more was filled than the trades we received (websocket trade
        streams drop events): read that order's trades over REST, by the order itself rather
        than by a time window (which would depend on the venue's clock), and journal them once."""
        for client_id, attempts in list(self._missing_fills.items()):
            order = self._finished[client_id]
            if attempts >= 3 or order.traded_amount >= order.filled_amount * (1 - 1e-9):
                del self._missing_fills[client_id]
                continue
            self._missing_fills[client_id] = attempts + 1
            try:
                fills = await self._brokers[order.request.account].fills_of(
                    client_id, order.request.key
                )
            except VenueError as exc:
                log.warning("fills.catch_up_failed", client_id=client_id, error=str(exc))
                continue
            for fill in fills:
                if fill.client_id == client_id:
                    self.on_fill(fill)

    async def _look_up(self, active: _Active) -> None:
        order = active.order
        broker = self._brokers[order.request.account]
        now = self._clock.now_ms()
        try:
            found = await broker.lookup(order.client_id, order.request.key)
        except VenueError as exc:
            log.warning("order.lookup_failed", client_id=order.client_id, error=str(exc))
            active.lookup_errors += 1
            active.next_lookup_ms = now + self._lookup_interval_ms
            return
        if found is not None:
            self._apply(active, FoundByLookup(update=found, at_ms=now))
            self._observer(
                events.OrderFound(
                    underlying=active.underlying,
                    client_id=order.client_id,
                    status=found.status.value,
                )
            )
            return
        self._apply(active, LookupMissed(at_ms=now))
        attempts = active.order.lookup_attempts
        if active.adopted and not active.lookup_errors and now - order.created_ms >= 2_000:
            # An intent journaled by a run that died: no request of ours can still be on its
            # way (the process that held it is gone), so the venue's "no such label" is final.
            attempts = self._max_lookups
        if attempts < self._max_lookups:
            active.next_lookup_ms = now + self._lookup_interval_ms * 2 ** min(attempts, 5)
            return
        reason = f"not found by client id after {attempts} lookups"
        self._apply(active, NotFoundAfterSearch(at_ms=now, reason=reason))
        if active.lookup_errors:
            # Some lookups failed: the venue's answer is not trustworthy. Halt until an operator
            # has checked the venue's order history for this client id.
            self.halted[order.request.key] = f"order {order.client_id} lost: {reason}"
            self._observer(
                events.OrderLost(
                    underlying=active.underlying, client_id=order.client_id, reason=reason
                )
            )
        else:
            # Every lookup reached the venue and it never saw the order (it was never sent, or
            # lost on the way): nothing is in flight. Late fills would still be applied.
            self._unplaced.append(order.client_id)
            self._observer(
                events.OrderNotPlaced(
                    underlying=active.underlying, client_id=order.client_id, reason=reason
                )
            )

    async def _cancel(self, active: _Active, *, again: bool = False) -> None:
        order = active.order
        if again:
            log.info("order.cancel_resent", client_id=order.client_id)
        try:
            await self._brokers[order.request.account].cancel(order.client_id, order.request.key)
        except VenueError as exc:
            log.warning("order.cancel_failed", client_id=order.client_id, error=str(exc))
            return
        if active.order.state.is_live and active.order.cancel_requested_ms is None:
            self._apply(active, CancelRequested(at_ms=self._clock.now_ms()))

    async def cancel_all(self) -> None:
        """Cancel every live order (shutdown, flatten)."""
        for active in list(self._active.values()):
            if active.order.state in (OrderState.OPEN, OrderState.PARTIALLY_FILLED):
                await self._cancel(active)

    async def drain(self) -> None:
        """Wait for in-progress sends to finish (never leaves a create half-handled)."""
        tasks = [a.task for a in self._active.values() if a.task is not None and not a.task.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def adopt(self, order: TrackedOrder, underlying: str) -> None:
        """Track an order found in the journal at start-up (state UNKNOWN until looked up)."""
        now = self._clock.now_ms()
        self._active[order.client_id] = _Active(
            order=order,
            underlying=underlying,
            settlement=Settlement().fill_known(order.filled_amount, at_ms=now),
            adopted=True,
        )

    def resume(self, key: InstrumentKey | None = None) -> None:
        """Operator: lift the halt of one instrument, or of all."""
        if key is None:
            self.halted.clear()
        else:
            self.halted.pop(key, None)


def hedge_limit_price(
    instrument: Instrument, quote: Quote, side: Side, slippage_bps: float
) -> float:
    """A limit at most `slippage_bps` away from mid, on the tick, never past that cap."""
    mid = quote.mid
    cap = mid * (1 + side.sign * slippage_bps / 10_000)
    return instrument.round_price(cap, up=side is Side.SELL)
