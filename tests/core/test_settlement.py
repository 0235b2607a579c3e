"""Tests of the settlement rule: an order stops counting as in flight only when an account state
known to contain its last fill was seen, on any interleaving of reads, fills and notifications."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgebot.core.lifecycle import (
    FillApplied,
    OrderState,
    Submitted,
    TrackedOrder,
    VenueStatus,
    apply,
)
from hedgebot.core.settlement import (
    Settlement,
    in_flight_signed,
    is_settled,
    state_read_ms,
)
from hedgebot.model.account import AccountSnapshot, SnapshotPart
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import OrderRequest, OrderStatus, OrderUpdate, Side

KEY = InstrumentKey("deribit", "BTC-PERPETUAL")
AMOUNT = 100.0


def _order() -> TrackedOrder:
    request = OrderRequest(
        client_id="hb1",
        account="main",
        key=KEY,
        side=Side.SELL,
        amount=AMOUNT,
        limit_price=50_000.0,
    )
    pending = TrackedOrder.pending(request, now_ms=0)
    ack = OrderUpdate(
        client_id="hb1",
        venue_order_id="v1",
        key=KEY,
        status=OrderStatus.OPEN,
        filled_amount=0.0,
        timestamp_ms=0,
    )
    return apply(pending, Submitted(update=ack, at_ms=0))


def _snapshot(positions_ms: int, funds_ms: int, returned_ms: int) -> AccountSnapshot:
    return AccountSnapshot(
        account="main",
        venue="deribit",
        timestamp_ms=returned_ms,
        read_started_ms={SnapshotPart.POSITIONS: positions_ms, SnapshotPart.FUNDS: funds_ms},
    )


def test_the_issue_race_positions_read_before_a_fill_do_not_settle_it() -> None:
    """The first failure of issue 8: positions requested at -1 ms, the order fills at 0, the
    summaries return at +50 ms. That snapshot does not contain the fill, so the filled order
    still counts in flight and blocks its instrument; the next read settles it."""
    order = apply(_order(), FillApplied(trade_id="t1", amount=AMOUNT, at_ms=0))
    assert order.state is OrderState.FILLED
    settlement = Settlement().fill_known(AMOUNT, at_ms=0)
    raced = settlement.state_seen(state_read_ms(_snapshot(-1, 1, 50)))
    assert not is_settled(order, raced)
    assert in_flight_signed(order, raced) == pytest.approx(-AMOUNT)
    later = raced.state_seen(state_read_ms(_snapshot(900, 950, 1000)))
    assert is_settled(order, later)
    assert in_flight_signed(order, later) == 0.0


def test_the_earliest_part_decides() -> None:
    """Positions requested after the fill but funds requested before it: not yet contained."""
    settlement = Settlement().fill_known(AMOUNT, at_ms=10)
    assert settlement.state_seen(state_read_ms(_snapshot(20, 5, 30))).contained == 0.0
    assert settlement.state_seen(state_read_ms(_snapshot(11, 12, 30))).contained == AMOUNT


def test_an_atomic_snapshot_contains_what_was_known_at_its_timestamp() -> None:
    """A simulator snapshot (no part stamps) pushed in the same millisecond as the fill."""
    settlement = Settlement().fill_known(AMOUNT, at_ms=10)
    atomic = AccountSnapshot(account="main", venue="sim", timestamp_ms=10)
    assert settlement.state_seen(state_read_ms(atomic)).contained == AMOUNT


@dataclass(frozen=True, slots=True)
class _Read:
    positions_sent: int
    funds_sent: int
    positions_at_venue: int
    """When the venue evaluated the positions request (≥ sent)."""
    returned: int


@st.composite
def _histories(draw: st.DrawFn) -> tuple[list[tuple[int, float, int]], list[_Read]]:
    """Fills (executed at, cumulative amount, known at) and multi-part reads, in any overlap."""
    count = draw(st.integers(1, 4))
    times = sorted(draw(st.lists(st.integers(0, 200), min_size=count, max_size=count)))
    cuts = sorted(draw(st.lists(st.integers(1, 99), min_size=count - 1, max_size=count - 1)))
    cumulative = [c * AMOUNT / 100 for c in cuts] + [AMOUNT]
    fills = [
        (executed, cumulative[i], executed + draw(st.integers(0, 120)))
        for i, executed in enumerate(times)
    ]
    reads = []
    for _ in range(draw(st.integers(1, 6))):
        sent = draw(st.integers(-50, 400))
        at_venue = sent + draw(st.integers(0, 30))
        funds_sent = at_venue + draw(st.integers(0, 80))  # rate-limit spacing
        returned = funds_sent + draw(st.integers(0, 60))
        reads.append(_Read(sent, funds_sent, at_venue, returned))
    return fills, reads


def _executed_by(fills: list[tuple[int, float, int]], moment: int) -> float:
    return max((amount for executed, amount, _ in fills if executed <= moment), default=0.0)


@settings(max_examples=400, deadline=None)
@given(_histories())
def test_no_interleaving_counts_a_fill_twice_or_forever(
    history: tuple[list[tuple[int, float, int]], list[_Read]],
) -> None:
    """Replaying notifications and read answers in arrival order, with the state keeping the
    snapshot read most recently (as `BookState` does):

    * what the rule says the held snapshot contains never exceeds what the venue had executed
      when it evaluated that snapshot's positions (else the policy would see the fill neither
      in the position nor in flight, and hedge the same need again);
    * so the position the policy sees plus the order's in-flight amount always covers
      everything known to be filled; the order is never settled while that would fail;
    * a read sent after the last fill was known settles the order.
    """
    fills, reads = history
    arrivals: list[tuple[int, int, float | _Read]] = [
        (known, 0, amount) for _, amount, known in fills
    ]
    arrivals += [(read.returned, 1, read) for read in reads]
    last_known = max(known for _, _, known in fills)
    closing = _Read(last_known + 1, last_known + 2, last_known + 1, last_known + 3)
    arrivals.append((closing.returned, 2, closing))
    order, settlement = _order(), Settlement()
    held: _Read | None = None
    for moment, _, item in sorted(arrivals, key=lambda a: (a[0], a[1])):
        if isinstance(item, _Read):
            snapshot = _snapshot(item.positions_sent, item.funds_sent, item.returned)
            if held is not None and state_read_ms(
                _snapshot(held.positions_sent, held.funds_sent, held.returned)
            ) > state_read_ms(snapshot):
                continue  # an older read returning late is not kept
            held = item
            settlement = settlement.state_seen(state_read_ms(snapshot))
        else:
            amount = item
            status = OrderStatus.FILLED if amount == AMOUNT else OrderStatus.OPEN
            report = VenueStatus(status=status, filled_amount=amount, at_ms=moment)
            order = apply(order, report)
            settlement = settlement.fill_known(order.filled_amount, at_ms=moment)
        in_position = _executed_by(fills, held.positions_at_venue) if held else 0.0
        assert settlement.contained <= in_position + 1e-9
        seen_hedge = in_position - in_flight_signed(order, settlement)  # a sell: in flight < 0
        assert seen_hedge >= order.filled_amount - 1e-9
        if is_settled(order, settlement):
            assert in_position >= order.filled_amount - 1e-9
    assert order.state is OrderState.FILLED
    assert is_settled(order, settlement)


def test_the_return_time_judgement_fails_the_same_property() -> None:
    """The old rule (a snapshot judged by when its last part returned) is caught: positions
    evaluated at 0 ms, the fill executed and known at 10 ms, summaries returning at 50 ms."""
    order = apply(_order(), FillApplied(trade_id="t1", amount=AMOUNT, at_ms=10))
    by_return = Settlement().fill_known(AMOUNT, at_ms=10).state_seen(50)
    by_start = (
        Settlement().fill_known(AMOUNT, at_ms=10).state_seen(state_read_ms(_snapshot(0, 40, 50)))
    )
    in_position = 0.0  # the positions were evaluated before the fill
    assert in_position - in_flight_signed(order, by_return) < order.filled_amount
    assert in_position - in_flight_signed(order, by_start) >= order.filled_amount
