"""The executor chases orders whose fate is unknown: a cancel whose confirmation never arrives is
looked up over REST until its final state is known, and an order that stays unresolved halts its
instrument and raises ``order.unresolved`` instead of blocking it silently."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hedgebot.clock import SimulatedClock
from hedgebot.core.policy import FixedBand, HedgeRule, RebalanceTo
from hedgebot.daemon.executor import Executor, HedgeLeg
from hedgebot.daemon.journal import Journal
from hedgebot.model.account import AccountSnapshot
from hedgebot.model.errors import VenueError
from hedgebot.model.events import DaemonEvent
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import Quote
from hedgebot.model.orders import Fill, OrderRequest, OrderStatus, OrderUpdate
from hedgebot.venues.ports import AccountSink
from tests.support.sample_instruments import PERP

START_MS = 1_700_000_000_000


class _Venue:
    """A venue that rests every order, cancels on request but never confirms on any stream;
    its REST lookup answers the order's true state (or fails while `lookups_fail`)."""

    account = "main"
    venue = "deribit"

    def __init__(self) -> None:
        self.orders: dict[str, OrderUpdate] = {}
        self.cancels = 0
        self.lookups = 0
        self.lookups_fail = False

    async def stream(self, sink: AccountSink) -> None:
        raise NotImplementedError

    async def snapshot(self) -> AccountSnapshot:
        raise NotImplementedError

    async def open_orders(self) -> Sequence[OrderUpdate]:
        return [o for o in self.orders.values() if o.status is OrderStatus.OPEN]

    async def fills_since(self, timestamp_ms: int) -> Sequence[Fill]:
        return []

    async def fills_of(self, client_id: str, key: InstrumentKey) -> Sequence[Fill]:
        return []

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        update = OrderUpdate(
            client_id=order.client_id,
            venue_order_id=f"v-{order.client_id}",
            key=order.key,
            status=OrderStatus.OPEN,
            filled_amount=0.0,
            timestamp_ms=START_MS,
        )
        self.orders[order.client_id] = update
        return update

    async def cancel(self, client_id: str, key: InstrumentKey) -> None:
        self.cancels += 1
        order = self.orders[client_id]
        self.orders[client_id] = OrderUpdate(
            client_id=client_id,
            venue_order_id=order.venue_order_id,
            key=key,
            status=OrderStatus.CANCELLED,
            filled_amount=0.0,
            timestamp_ms=START_MS,
        )

    async def lookup(self, client_id: str, key: InstrumentKey) -> OrderUpdate | None:
        self.lookups += 1
        if self.lookups_fail:
            raise VenueError("lookup timed out")
        return self.orders.get(client_id)


LEG = HedgeLeg(
    underlying="BTC",
    account="main",
    instrument=PERP,
    rule=HedgeRule(
        target=0.0,
        band=FixedBand(0.25),
        rebalance_to=RebalanceTo.EDGE,
        min_order=0.01,
        max_order=5.0,
        max_position=40.0,
        cooldown_ms=0,
    ),
    slippage_bps=20.0,
    order_timeout_ms=4_000,
)
QUOTE = Quote(
    key=PERP.key,
    timestamp_ms=START_MS,
    bid=59_990.0,
    ask=60_010.0,
    mark_price=60_000.0,
    underlying_price=60_000.0,
)


def _executor(tmp_path: Path, venue: _Venue) -> tuple[Executor, SimulatedClock, list[str]]:
    clock = SimulatedClock(START_MS)
    seen: list[str] = []

    def observe(event: DaemonEvent) -> None:
        seen.append(event.kind)

    executor = Executor(
        clock=clock,
        journal=Journal(tmp_path / "journal.sqlite"),
        brokers={"main": venue},
        client_prefix="hbtest",
        observer=observe,
    )
    return executor, clock, seen


async def _service_until(executor: Executor, clock: SimulatedClock, seconds: float) -> None:
    """Run the executor's periodic service every 250 ms of simulated time for `seconds`."""
    for _ in range(int(seconds * 4)):
        clock.advance(0.25)
        await executor.service({PERP.key: LEG.order_timeout_ms})


async def test_a_cancel_whose_confirmation_is_lost_is_resolved_over_rest(tmp_path: Path) -> None:
    """The order rests, times out and is cancelled; no stream ever says so. Within seconds the
    executor looks it up by client id, learns CANCELLED, and the instrument is free again."""
    venue = _Venue()
    executor, clock, seen = _executor(tmp_path, venue)
    request = executor.place(LEG, order_delta=-1.0, quote=QUOTE)
    assert request is not None
    await executor.drain()
    await _service_until(executor, clock, 4.5)
    assert venue.cancels == 1
    assert executor.blocking_reason(PERP.key) is not None
    await _service_until(executor, clock, 3.0)
    assert venue.lookups >= 1
    executor.on_account_snapshot("main", clock.now_ms())
    assert executor.blocking_reason(PERP.key) is None
    assert executor.in_flight(PERP.key) == 0.0
    assert "order.unresolved" not in seen


async def test_an_order_that_stays_unresolved_halts_its_instrument_and_alerts(
    tmp_path: Path,
) -> None:
    """Every lookup fails: after 20 s of chasing, the instrument halts (typed, operator
    resumes) and ``order.unresolved`` is raised once, instead of a silent block."""
    venue = _Venue()
    executor, clock, seen = _executor(tmp_path, venue)
    executor.place(LEG, order_delta=-1.0, quote=QUOTE)
    await executor.drain()
    venue.lookups_fail = True
    await _service_until(executor, clock, 20.0)
    assert PERP.key not in executor.halted
    await _service_until(executor, clock, 10.0)
    assert "unresolved" in executor.halted[PERP.key]
    assert seen.count("order.unresolved") == 1
    assert venue.lookups >= 20
