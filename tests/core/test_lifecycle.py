"""Tests of the order lifecycle state machine: hedge exactly once, lose nothing."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from hedgebot.core.lifecycle import (
    TRANSITIONS,
    CancelRequested,
    Event,
    EventKind,
    FillApplied,
    FoundByLookup,
    IllegalTransition,
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
from hedgebot.core.settlement import Settlement, in_flight_signed, is_settled
from hedgebot.model.errors import HedgebotError
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import Fill, OrderRequest, OrderStatus, OrderUpdate, Side

KEY = InstrumentKey("deribit", "BTC_USDC-PERPETUAL")
AMOUNT = 0.3


def _seen(order: TrackedOrder) -> Settlement:
    """The settlement of `order` once an account state containing all its fills was seen."""
    return Settlement().fill_known(order.filled_amount, at_ms=0).state_seen(1)


def _in_flight(order: TrackedOrder) -> float:
    return in_flight_signed(order, _seen(order))


def _blocks(order: TrackedOrder) -> bool:
    return not is_settled(order, _seen(order))


def request(
    side: Side = Side.SELL, amount: float = AMOUNT, client_id: str = "hb-1"
) -> OrderRequest:
    """A limit hedge order of `amount` coin."""
    return OrderRequest(
        client_id=client_id, account="main", key=KEY, side=side, amount=amount, limit_price=50_000.0
    )


def update(
    status: OrderStatus, filled: float = 0.0, client_id: str = "hb-1", at_ms: int = 0
) -> OrderUpdate:
    """The venue's view of order `client_id`."""
    return OrderUpdate(
        client_id=client_id,
        venue_order_id="v-1",
        key=KEY,
        status=status,
        filled_amount=filled,
        timestamp_ms=at_ms,
    )


def run(order: TrackedOrder, *events: Event) -> TrackedOrder:
    """Apply `events` in order."""
    for event in events:
        order = apply(order, event)
    return order


def pending(side: Side = Side.SELL) -> TrackedOrder:
    """A freshly journaled order."""
    return TrackedOrder.pending(request(side), now_ms=1_000)


# --- key paths ------------------------------------------------------------------------------


def test_timeout_then_found_open_then_filled() -> None:
    """An order whose create timed out is counted in flight, found by lookup, then fills."""
    unknown = run(pending(), SubmitTimedOut(at_ms=2_000, reason="read timeout"))
    assert unknown.state is OrderState.UNKNOWN
    assert _in_flight(unknown) == pytest.approx(-AMOUNT)
    assert _blocks(unknown)
    assert unknown.reason == "read timeout"

    missed = run(unknown, LookupMissed(at_ms=3_000), LookupMissed(at_ms=4_000))
    assert missed.state is OrderState.UNKNOWN
    assert missed.lookup_attempts == 2

    found = apply(missed, FoundByLookup(update=update(OrderStatus.OPEN), at_ms=5_000))
    assert found.state is OrderState.OPEN
    assert found.venue_order_id == "v-1"
    assert _blocks(found)

    filled = apply(found, FillApplied(trade_id="t1", amount=AMOUNT, at_ms=6_000))
    assert filled.state is OrderState.FILLED
    assert _in_flight(filled) == 0.0
    assert not _blocks(filled)
    assert filled.updated_ms == 6_000


def test_timeout_then_lost_then_late_fill_is_applied() -> None:
    """A LOST order is no longer in flight, yet late fills count and a full one FILLs it."""
    lost = run(
        pending(),
        SubmitTimedOut(at_ms=2_000),
        LookupMissed(at_ms=3_000),
        NotFoundAfterSearch(at_ms=4_000, reason="not found after 1 lookup"),
    )
    assert lost.state is OrderState.LOST
    assert lost.is_terminal
    assert _in_flight(lost) == 0.0
    assert not _blocks(lost)
    assert lost.reason == "not found after 1 lookup"

    part = apply(lost, FillApplied(trade_id="t1", amount=0.1, at_ms=5_000))
    assert part.state is OrderState.LOST
    assert part.filled_amount == pytest.approx(0.1)

    rest = apply(part, FillApplied(trade_id="t2", amount=0.2, at_ms=6_000))
    assert rest.state is OrderState.FILLED
    assert rest.filled_amount == AMOUNT


def test_late_fill_after_cancel_counts_and_keeps_cancelled() -> None:
    """A fill that arrives after the venue confirmed the cancel still counts."""
    cancelled = run(
        pending(),
        Submitted(update=update(OrderStatus.OPEN), at_ms=2_000),
        CancelRequested(at_ms=3_000),
        VenueStatus(status=OrderStatus.CANCELLED, filled_amount=0.0, at_ms=4_000),
    )
    assert cancelled.cancel_requested_ms == 3_000
    late = apply(cancelled, FillApplied(trade_id="t1", amount=0.05, at_ms=5_000))
    assert late.state is OrderState.CANCELLED
    assert late.filled_amount == pytest.approx(0.05)
    assert _in_flight(late) == 0.0


def test_duplicate_fill_is_counted_once() -> None:
    """The same trade delivered twice (stream and reconciliation) moves the order once."""
    fill = Fill(
        trade_id="t1",
        client_id="hb-1",
        account="main",
        key=KEY,
        side=Side.SELL,
        amount=0.1,
        price=50_000.0,
        fee=0.0,
        fee_currency="USDC",
        timestamp_ms=2_000,
    )
    once = apply(pending(), FillApplied.of(fill, at_ms=2_000))
    twice = apply(once, FillApplied.of(fill, at_ms=3_000))
    assert twice is once
    assert twice.filled_amount == pytest.approx(0.1)
    assert twice.state is OrderState.PARTIALLY_FILLED


def test_cumulative_report_and_trades_are_not_added_together() -> None:
    """A venue's cumulative filled amount and the trades behind it are not double counted."""
    acked = apply(pending(), Submitted(update=update(OrderStatus.OPEN), at_ms=2_000))
    reported = apply(
        acked, VenueStatus(status=OrderStatus.PARTIALLY_FILLED, filled_amount=0.2, at_ms=3_000)
    )
    traded = run(
        reported,
        FillApplied(trade_id="t1", amount=0.1, at_ms=4_000),
        FillApplied(trade_id="t2", amount=0.1, at_ms=4_000),
    )
    assert traded.filled_amount == pytest.approx(0.2)
    assert _in_flight(traded) == pytest.approx(-0.1)
    assert traded.state is OrderState.PARTIALLY_FILLED


def test_stale_open_report_after_fill_is_absorbed() -> None:
    """An old "open" report arriving after the order filled neither raises nor unfills it."""
    filled = run(
        pending(Side.BUY),
        Submitted(update=update(OrderStatus.OPEN), at_ms=2_000),
        FillApplied(trade_id="t1", amount=AMOUNT, at_ms=3_000),
    )
    stale = apply(filled, VenueStatus(status=OrderStatus.OPEN, filled_amount=0.0, at_ms=2_500))
    assert stale.state is OrderState.FILLED
    assert stale.filled_amount == AMOUNT
    assert stale.updated_ms == 3_000


def test_ack_reporting_an_immediate_fill_fills_the_order() -> None:
    """A create whose acknowledgement already says FILLED leaves nothing in flight."""
    order = apply(pending(Side.BUY), Submitted(update=update(OrderStatus.FILLED), at_ms=2_000))
    assert order.state is OrderState.FILLED
    assert order.filled_amount == AMOUNT


def test_overfill_is_capped_but_visible() -> None:
    """Fills beyond the order amount cap the filled amount and stay visible as traded."""
    order = run(
        pending(),
        FillApplied(trade_id="t1", amount=0.2, at_ms=2_000),
        FillApplied(trade_id="t2", amount=0.2, at_ms=3_000),
    )
    assert order.state is OrderState.FILLED
    assert order.filled_amount == AMOUNT
    assert order.traded_amount == pytest.approx(0.4)


def test_float_noise_completes_the_order() -> None:
    """Fills that sum to the amount up to float rounding fill the order."""
    order = run(
        TrackedOrder.pending(request(amount=0.3), now_ms=0),
        FillApplied(trade_id="t1", amount=0.1, at_ms=1),
        FillApplied(trade_id="t2", amount=0.2, at_ms=2),
    )
    assert order.state is OrderState.FILLED
    assert order.remaining == 0.0


def test_in_flight_is_signed_by_side() -> None:
    """A buy in flight counts positive and a sell negative."""
    assert _in_flight(pending(Side.BUY)) == pytest.approx(AMOUNT)
    assert _in_flight(pending(Side.SELL)) == pytest.approx(-AMOUNT)


@pytest.mark.parametrize(
    ("events", "state", "kind"),
    [
        (
            [SubmitTimedOut(at_ms=1), SubmitTimedOut(at_ms=2)],
            OrderState.UNKNOWN,
            EventKind.SUBMIT_TIMED_OUT,
        ),
        ([LookupMissed(at_ms=1)], OrderState.PENDING_SUBMIT, EventKind.LOOKUP_MISSED),
        ([CancelRequested(at_ms=1)], OrderState.PENDING_SUBMIT, EventKind.CANCEL_REQUESTED),
        (
            [SubmitTimedOut(at_ms=1), Submitted(update=update(OrderStatus.OPEN), at_ms=2)],
            OrderState.UNKNOWN,
            EventKind.SUBMITTED,
        ),
        (
            [
                FillApplied(trade_id="t1", amount=0.1, at_ms=1),
                VenueStatus(status=OrderStatus.REJECTED, filled_amount=0.0, at_ms=2),
            ],
            OrderState.PARTIALLY_FILLED,
            EventKind.REPORTED_REJECTED,
        ),
        (
            [
                Rejected(at_ms=1, reason="insufficient funds"),
                VenueStatus(status=OrderStatus.OPEN, filled_amount=0.0, at_ms=2),
            ],
            OrderState.REJECTED,
            EventKind.REPORTED_OPEN,
        ),
    ],
    ids=[
        "second-timeout",
        "lookup-before-timeout",
        "cancel-before-ack",
        "ack-after-timeout",
        "reject-after-fill",
        "open-after-reject",
    ],
)
def test_illegal_transitions_raise(events: list[Event], state: OrderState, kind: EventKind) -> None:
    """Events that signal a bug or a contradictory venue raise instead of being guessed at."""
    with pytest.raises(IllegalTransition) as raised:
        run(pending(), *events)
    assert (raised.value.state, raised.value.kind) == (state, kind)
    assert isinstance(raised.value, HedgebotError)
    assert "hb-1" in str(raised.value)


def test_update_of_another_order_is_refused() -> None:
    """An acknowledgement routed to the wrong order raises rather than corrupting it."""
    with pytest.raises(ValueError, match="hb-2"):
        apply(pending(), Submitted(update=update(OrderStatus.OPEN, client_id="hb-2"), at_ms=1))


def test_every_state_accepts_fills() -> None:
    """The table never drops a fill, whatever state the order is in."""
    for state in OrderState:
        assert (state, EventKind.FILL_PARTIAL) in TRANSITIONS
        assert (state, EventKind.FILL_COMPLETE) in TRANSITIONS
        assert TRANSITIONS[(state, EventKind.FILL_COMPLETE)] is OrderState.FILLED


def test_table_never_revives_a_terminal_order() -> None:
    """No entry of the table leads from a terminal state back to a live one."""
    for (state, kind), target in TRANSITIONS.items():
        if state.is_terminal:
            assert target.is_terminal, (state, kind, target)


def test_invalid_amounts_are_refused() -> None:
    """Events and orders with impossible amounts are refused at construction."""
    with pytest.raises(ValueError, match="positive"):
        FillApplied(trade_id="t1", amount=0.0, at_ms=1)
    with pytest.raises(ValueError, match="finite"):
        VenueStatus(status=OrderStatus.OPEN, filled_amount=math.nan, at_ms=1)
    with pytest.raises(ValueError, match="exceeds"):
        TrackedOrder(
            request=request(), state=OrderState.OPEN, created_ms=0, updated_ms=0, filled_amount=1.0
        )


# --- stateful: random event sequences -------------------------------------------------------

FRACTIONS = st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]) | st.floats(0.0, 1.0)
STATUSES = st.sampled_from(list(OrderStatus))


def expected_report_kind(order: TrackedOrder, status: OrderStatus, filled: float) -> EventKind:
    """Spec of how a venue report reads: completion wins, then an open order with fills."""
    merged = (
        order.request.amount if status is OrderStatus.FILLED else max(filled, order.filled_amount)
    )
    if math.isclose(merged, order.request.amount, rel_tol=1e-9) or merged > order.request.amount:
        return EventKind.REPORTED_FILLED
    return {
        OrderStatus.OPEN: EventKind.REPORTED_PARTIALLY_FILLED
        if merged
        else EventKind.REPORTED_OPEN,
        OrderStatus.PARTIALLY_FILLED: (
            EventKind.REPORTED_PARTIALLY_FILLED if merged else EventKind.REPORTED_OPEN
        ),
        OrderStatus.CANCELLED: EventKind.REPORTED_CANCELLED,
        OrderStatus.REJECTED: EventKind.REPORTED_REJECTED,
    }[status]


STARTS: dict[str, tuple[Event, ...]] = {
    "pending": (),
    "unknown": (SubmitTimedOut(at_ms=1_010),),
    "lost": (SubmitTimedOut(at_ms=1_010), NotFoundAfterSearch(at_ms=1_020)),
    "open": (Submitted(update=update(OrderStatus.OPEN), at_ms=1_010),),
    "cancelled": (
        Submitted(update=update(OrderStatus.OPEN), at_ms=1_010),
        VenueStatus(status=OrderStatus.CANCELLED, filled_amount=0.0, at_ms=1_020),
    ),
}
"""Prefixes that put the order where short random runs rarely get by themselves."""


def walk_table(
    state: OrderState, kinds: tuple[EventKind, ...]
) -> tuple[OrderState, tuple[OrderState, EventKind] | None]:
    """Follow `kinds` through the table: the end state, or the first missing (state, kind)."""
    for kind in kinds:
        target = TRANSITIONS.get((state, kind))
        if target is None:
            return state, (state, kind)
        state = target
    return state, None


class LifecycleMachine(RuleBasedStateMachine):
    """Drives one order through random, duplicated and reordered venue events."""

    fills = Bundle("fills")

    def __init__(self) -> None:
        super().__init__()
        self.order = pending()
        self.counted: dict[str, float] = {}
        self.clock = 1_000
        self.next_trade = 0

    @initialize(start=st.sampled_from(list(STARTS)))
    def start_from(self, start: str) -> None:
        """Begin from a journaled intent or from an UNKNOWN, LOST, OPEN or CANCELLED order."""
        for event in STARTS[start]:
            self.order = apply(self.order, event)
        self.clock = self.order.updated_ms

    def tick(self) -> int:
        """A later instant."""
        self.clock += 10
        return self.clock

    def step(self, event: Event, kinds: tuple[EventKind, ...] | None) -> None:
        """Apply `event`; check monotonicity, and that it follows the table along `kinds`."""
        before = self.order
        expected_state, expected_refusal = walk_table(before.state, kinds or ())
        refusal: IllegalTransition | None = None
        try:
            after = apply(before, event)
        except IllegalTransition as illegal:
            refusal, after = illegal, before
        if refusal is not None:
            assert (refusal.state, refusal.kind) not in TRANSITIONS
            assert kinds is None or (refusal.state, refusal.kind) == expected_refusal
            return
        assert expected_refusal is None
        if kinds:
            assert after.state is expected_state
        assert after.filled_amount >= before.filled_amount
        if before.is_terminal:
            assert after.is_terminal
        if before.state is OrderState.FILLED:
            assert after.state is OrderState.FILLED
        assert after.updated_ms >= before.updated_ms
        self.order = after

    def report_kinds(self, status: OrderStatus, fraction: float) -> tuple[EventKind, ...]:
        """The report column the spec expects for this report."""
        return (expected_report_kind(self.order, status, fraction * AMOUNT),)

    @rule(target=fills, fraction=st.floats(0.01, 0.6) | st.sampled_from([1.0, 1.2]))
    def new_fill(self, fraction: float) -> FillApplied:
        """A new trade of the order; it is always counted."""
        self.next_trade += 1
        fill = FillApplied(
            trade_id=f"t{self.next_trade}", amount=fraction * AMOUNT, at_ms=self.tick()
        )
        before = self.order
        self.step(fill, None)
        self.counted[fill.trade_id] = fill.amount
        complete = self.order.filled_amount == AMOUNT
        kind = EventKind.FILL_COMPLETE if complete else EventKind.FILL_PARTIAL
        assert self.order.state is TRANSITIONS[(before.state, kind)]
        return fill

    @rule(fill=fills)
    def replayed_fill(self, fill: FillApplied) -> None:
        """A trade delivered again (reconnect, reconciliation) changes nothing."""
        before = self.order
        self.step(fill, None)
        assert self.order == before

    @rule(status=STATUSES, fraction=FRACTIONS)
    def acknowledged(self, status: OrderStatus, fraction: float) -> None:
        """The create returns with the venue's view of the order."""
        event = Submitted(update=update(status, fraction * AMOUNT), at_ms=self.tick())
        self.step(event, (EventKind.SUBMITTED, *self.report_kinds(status, fraction)))

    @rule()
    def timed_out(self) -> None:
        """The create gets no definite answer."""
        self.step(SubmitTimedOut(at_ms=self.tick()), (EventKind.SUBMIT_TIMED_OUT,))

    @rule()
    def rejected(self) -> None:
        """The create is refused."""
        self.step(Rejected(at_ms=self.tick(), reason="no"), (EventKind.SUBMIT_REJECTED,))

    @rule(status=STATUSES, fraction=FRACTIONS)
    def venue_reported(self, status: OrderStatus, fraction: float) -> None:
        """The stream reports a (possibly stale) status and cumulative fill."""
        event = VenueStatus(status=status, filled_amount=fraction * AMOUNT, at_ms=self.tick())
        self.step(event, self.report_kinds(status, fraction))

    @rule()
    def cancel_requested(self) -> None:
        """hedgebot asks for a cancel."""
        self.step(CancelRequested(at_ms=self.tick()), (EventKind.CANCEL_REQUESTED,))

    @rule(status=STATUSES, fraction=FRACTIONS)
    def found(self, status: OrderStatus, fraction: float) -> None:
        """A lookup by client id finds the order."""
        event = FoundByLookup(update=update(status, fraction * AMOUNT), at_ms=self.tick())
        self.step(event, (EventKind.FOUND_BY_LOOKUP, *self.report_kinds(status, fraction)))

    @rule()
    def lookup_missed(self) -> None:
        """A lookup by client id finds nothing."""
        self.step(LookupMissed(at_ms=self.tick()), (EventKind.LOOKUP_MISSED,))

    @rule()
    def search_exhausted(self) -> None:
        """The bounded search gives up."""
        self.step(NotFoundAfterSearch(at_ms=self.tick()), (EventKind.NOT_FOUND_AFTER_SEARCH,))

    @invariant()
    def filled_is_bounded(self) -> None:
        """Filled stays within [0, amount]; FILLED means all of it."""
        assert 0.0 <= self.order.filled_amount <= AMOUNT
        if self.order.state is OrderState.FILLED:
            assert self.order.filled_amount == AMOUNT

    @invariant()
    def each_trade_counted_once(self) -> None:
        """Traded equals the sum of distinct trades, and filled covers it up to the amount."""
        assert self.order.applied_trade_ids == frozenset(self.counted)
        assert self.order.traded_amount == pytest.approx(sum(self.counted.values()))
        assert self.order.filled_amount >= min(AMOUNT, self.order.traded_amount) - 1e-12

    @invariant()
    def in_flight_covers_the_rest(self) -> None:
        """Live: in flight + filled == amount, signed by side; terminal: nothing in flight."""
        order = self.order
        if order.state.is_live:
            assert _blocks(order)
            assert -_in_flight(order) + order.filled_amount == pytest.approx(AMOUNT)
        else:
            assert _in_flight(order) == 0.0
            assert not _blocks(order)


LifecycleMachine.TestCase.settings = settings(
    max_examples=500,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_lifecycle_machine = LifecycleMachine.TestCase
