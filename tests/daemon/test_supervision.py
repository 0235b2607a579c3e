"""The supervisor sees every long-lived task die and stops the daemon with the task's failure;
the fence watch halts a hedge instrument another hedgebot installation trades."""

from __future__ import annotations

import asyncio

from hedgebot.daemon.fence import FenceWatch
from hedgebot.daemon.state import OrderListener
from hedgebot.daemon.supervisor import Supervisor
from hedgebot.model.errors import AuthenticationFailed, TaskDied
from hedgebot.model.events import DaemonEvent, DaemonEventKind, FenceForeignHedger
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import Fill, OrderStatus, OrderUpdate, Side

KEY = InstrumentKey("deribit", "BTC-PERPETUAL")


async def _forever() -> None:
    await asyncio.get_running_loop().create_future()


async def _raises(error: BaseException) -> None:
    await asyncio.sleep(0)
    raise error


async def test_a_task_that_raises_stops_the_daemon_with_a_named_failure() -> None:
    stop = asyncio.Event()
    events: list[DaemonEvent] = []
    supervisor = Supervisor(stop=stop, notify=events.append)
    supervisor.spawn("stream.market.deribit", _forever())
    supervisor.spawn("stream.account.main", _raises(ValueError("boom")))
    await asyncio.wait_for(stop.wait(), 5)
    assert isinstance(supervisor.failure, TaskDied)
    assert "stream.account.main" in str(supervisor.failure)
    assert "ValueError: boom" in str(supervisor.failure)
    assert [e.kind for e in events] == [DaemonEventKind.TASK_DIED]
    await supervisor.close(5)
    assert [e.kind for e in events] == [DaemonEventKind.TASK_DIED], "cancelling is no death"


async def test_a_typed_failure_keeps_its_class_and_a_return_is_a_death() -> None:
    stop = asyncio.Event()
    supervisor = Supervisor(stop=stop, notify=lambda event: None)
    supervisor.spawn("stream.account.main", _raises(AuthenticationFailed("key revoked")))
    await asyncio.wait_for(stop.wait(), 5)
    assert isinstance(supervisor.failure, AuthenticationFailed)
    await supervisor.close(5)

    stop2 = asyncio.Event()
    returned = Supervisor(stop=stop2, notify=lambda event: None)
    returned.spawn("alerts", asyncio.sleep(0))
    await asyncio.wait_for(stop2.wait(), 5)
    assert isinstance(returned.failure, TaskDied)
    assert "ended unexpectedly" in str(returned.failure)


class _Recorder(OrderListener):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_order(self, update: OrderUpdate) -> None:
        self.seen.append(update.client_id)

    def on_fill(self, fill: Fill) -> None:
        self.seen.append(fill.client_id)


def test_another_installations_order_halts_that_hedge_instrument_once() -> None:
    inner = _Recorder()
    halted: dict[InstrumentKey, str] = {}
    events: list[DaemonEvent] = []
    watch = FenceWatch(
        inner,
        own_installation="a1b2c3",
        hedge_instruments=[KEY],
        halt=halted.__setitem__,
        notify=events.append,
    )

    def update(client_id: str, key: InstrumentKey = KEY) -> OrderUpdate:
        return OrderUpdate(
            client_id=client_id,
            venue_order_id="1",
            key=key,
            status=OrderStatus.OPEN,
            filled_amount=0.0,
            timestamp_ms=1,
        )

    watch.on_order(update("hba1b2c3n1"))  # ours
    watch.on_order(update("manual-42"))  # a person's order: not a hedgebot
    watch.on_order(update("hbffffffn9", InstrumentKey("deribit", "BTC-27MAR26")))  # not hedged
    assert halted == {}
    watch.on_fill(
        Fill(
            trade_id="T1",
            client_id="hbffffffn9",
            account="main",
            key=KEY,
            side=Side.SELL,
            amount=10.0,
            price=60_000.0,
            fee=0.0,
            fee_currency="BTC",
            timestamp_ms=2,
        )
    )
    watch.on_order(update("hbffffffn10"))
    assert list(halted) == [KEY]
    assert "installation ffffff" in halted[KEY]
    assert events == [FenceForeignHedger(instrument=str(KEY), installation="ffffff")]
    assert inner.seen == ["hba1b2c3n1", "manual-42", "hbffffffn9", "hbffffffn9", "hbffffffn10"]


async def test_a_typed_failure_inside_a_task_group_keeps_its_class() -> None:
    """Streams run their watchers in a TaskGroup: the named failure is found inside the group."""
    stop = asyncio.Event()
    supervisor = Supervisor(stop=stop, notify=lambda event: None)
    group = ExceptionGroup("watchers", [ValueError("noise"), AuthenticationFailed("revoked")])
    supervisor.spawn("stream.account.main", _raises(group))
    await asyncio.wait_for(stop.wait(), 5)
    assert isinstance(supervisor.failure, AuthenticationFailed)
    await supervisor.close(5)
