"""One hedger per state directory and per account: the instance lock and the venue-side fence.

Owns `InstanceLock`, an exclusive ``flock`` on a lock file beside the journal (created owner
only), held for the process's life: a second hedgebot on the same state directory gets
`AlreadyRunning` at once. The kernel drops the lock when the process dies, even by ``kill -9``.

Owns `FenceWatch` too: it sits between the account streams and the executor, and every order or
fill on a hedge instrument that carries another installation's hedgebot client id
(`hedgebot.core.fencing`) means another hedger trades the same account: that instrument stops
trading, the operator is alerted (``fence.foreign_hedger``), and `/status` shows the halt.
The streams and start-up reconciliation feed it; `patrol` reads each account's open orders and
recent fills over REST every ``fence_interval_s`` too, so a foreign order is seen mid-run even
while a private stream is stalled or quiet.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Collection
from pathlib import Path

import structlog

from hedgebot.clock import Clock
from hedgebot.core.fencing import foreign_hedger
from hedgebot.daemon.state import OrderListener
from hedgebot.model.errors import AlreadyRunning, AuthenticationFailed, StateUnusable, VenueError
from hedgebot.model.events import EventSink, FenceForeignHedger
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import Fill, OrderUpdate
from hedgebot.venues.ports import Broker

log = structlog.get_logger("hedgebot.daemon.fence")


class InstanceLock:
    """An exclusive, non-blocking ``flock`` on `path`, held until `release` or process exit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateUnusable(f"lock file {path}: {exc.strerror}") from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(self._fd)
            os.close(self._fd)
            self._fd = None
            who = f" (pid {holder})" if holder else ""
            raise AlreadyRunning(
                f"another hedgebot{who} is running on {path.parent} (it holds {path.name})"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        """Unlock and close (the file stays: removing it would race a starting process)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


class FenceWatch(OrderListener):
    """Forwards order events to `inner` (the executor); halts a hedge instrument on which
    another hedgebot installation's orders or fills appear."""

    def __init__(
        self,
        inner: OrderListener,
        *,
        own_installation: str,
        hedge_instruments: Collection[InstrumentKey],
        halt: Callable[[InstrumentKey, str], None],
        notify: EventSink,
    ) -> None:
        self.inner = inner
        self._own = own_installation
        self._hedged = set(hedge_instruments)
        self._halt = halt
        self._notify = notify
        self.fenced: dict[InstrumentKey, str] = {}

    def check(self, client_id: str, key: InstrumentKey) -> None:
        """Fence `key` if `client_id` belongs to another hedgebot installation."""
        other = foreign_hedger(client_id, own_installation=self._own)
        if other is None or key not in self._hedged or key in self.fenced:
            return
        reason = (
            f"another hedgebot (installation {other}) trades {key} on this account: "
            f"order {client_id}; stop the other one, then resume"
        )
        self.fenced[key] = reason
        self._halt(key, reason)
        self._notify(FenceForeignHedger(instrument=str(key), installation=other))

    def on_order(self, update: OrderUpdate) -> None:
        """Check, then forward."""
        self.check(update.client_id, update.key)
        self.inner.on_order(update)

    def on_fill(self, fill: Fill) -> None:
        """Check, then forward."""
        self.check(fill.client_id, fill.key)
        self.inner.on_fill(fill)

    def on_account_snapshot(self, account: str, timestamp_ms: int) -> None:
        """Forward."""
        self.inner.on_account_snapshot(account, timestamp_ms)


async def patrol(broker: Broker, fence: FenceWatch, *, clock: Clock, interval_s: float) -> None:
    """Forever, every `interval_s`: the account's open orders and its fills of the last two
    intervals, read over REST, are checked by `fence` (read only: the streams still deliver
    our own). A failed read is logged and tried at the next patrol; revoked keys end the task
    (the supervisor stops the daemon with exit 77)."""
    window_ms = int(2 * interval_s * 1000)
    while True:
        await clock.sleep(interval_s)
        try:
            orders = await broker.open_orders()
            fills = await broker.fills_since(clock.now_ms() - window_ms)
        except AuthenticationFailed:
            raise
        except VenueError as exc:
            log.warning("fence.patrol_failed", account=broker.account, error=str(exc))
            continue
        for update in orders:
            fence.check(update.client_id, update.key)
        for fill in fills:
            fence.check(fill.client_id, fill.key)
