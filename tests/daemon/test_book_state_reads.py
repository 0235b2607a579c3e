"""The book keeps the account state read most recently, judged by when its reads were sent."""

from __future__ import annotations

from hedgebot.clock import SimulatedClock
from hedgebot.daemon.state import BookState, OrderListener
from hedgebot.model.account import AccountSnapshot, Position, SnapshotPart
from tests.support.sample_instruments import PERP


class _Seen(OrderListener):
    def __init__(self) -> None:
        self.reads: list[int] = []

    def on_account_snapshot(self, account: str, timestamp_ms: int) -> None:
        self.reads.append(timestamp_ms)


def _read(positions_ms: int, funds_ms: int, returned_ms: int, amount: float) -> AccountSnapshot:
    return AccountSnapshot(
        account="main",
        venue="deribit",
        timestamp_ms=returned_ms,
        positions=(Position(account="main", key=PERP.key, amount=amount),),
        read_started_ms={SnapshotPart.POSITIONS: positions_ms, SnapshotPart.FUNDS: funds_ms},
    )


def test_an_older_read_returning_later_does_not_replace_a_newer_one() -> None:
    """Read B (sent at 150) returns before read A (sent at 100): A's positions are older, so
    the book keeps B and the executor is told about B's send time only."""
    seen = _Seen()
    state = BookState(clock=SimulatedClock(0), listener=seen)
    state.on_account(_read(150, 160, 250, amount=-1000.0))
    state.on_account(_read(100, 180, 300, amount=0.0))
    assert state.position("main", PERP.key) == -1000.0
    assert seen.reads == [150]
