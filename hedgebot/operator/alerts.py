"""Operator alerts: `AlertDispatcher`, which delivers alerts (`hedgebot.model.alerts`) off the hot
path.

Owns deduplication and rate limiting per alert key, one bounded queue per channel, delivery in
worker threads with exponential-backoff retries, and flushing on shutdown. The engine calls
`submit` (synchronous, O(queue) at worst, never raises, never waits on the network); `run` is a
task that delivers; `aclose` flushes what is pending within a timeout.

Rules, so that an operator can predict what reaches the phone:

* Rate limit per key: an alert whose key was last accepted with the *same severity* less than
  `rate_limit_s` ago is suppressed and counted. A change of severity for a key (WARNING ->
  CRITICAL -> RESOLVED) always passes: escalations and recoveries are never held back.
* Each channel has its own queue and worker: a dead channel retries with backoff and fills its
  own queue, and the others keep delivering.
* On overflow a queue drops its oldest alert of the lowest severity (INFO first, CRITICAL last),
  counting the drop, so a flood of INFO can never push out a CRITICAL.

It must not log or raise with channel URLs (see `hedgebot.operator.alert_channels`), and it must not
decide *when* something is worth an alert: callers do (e.g. `hedgebot.core.margin_alerts`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import structlog
from pydantic import SecretStr

from hedgebot.clock import Clock, WallClock
from hedgebot.model.alerts import Alert, Severity
from hedgebot.operator.alert_channels import AppriseChannel

__all__ = [
    "AlertDispatcher",
    "ChannelStats",
    "DispatcherOptions",
    "DispatcherStats",
]

_log = structlog.get_logger("hedgebot.operator.alerts")


_DROP_RANK: Final = {
    Severity.INFO: 0,
    Severity.RESOLVED: 1,
    Severity.WARNING: 2,
    Severity.CRITICAL: 3,
}
"""Which alert a full queue gives up first: lowest rank, then oldest."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatcherOptions:
    """Tuning of `AlertDispatcher`; the defaults suit a live daemon."""

    rate_limit_s: float = 60.0
    """Same key and severity within this window is suppressed."""
    retry_base_s: float = 1.0
    """First retry delay; doubles per failed attempt up to `retry_max_s`."""
    retry_max_s: float = 60.0
    max_attempts: int = 8
    """Attempts per alert and channel before it is abandoned (logged `alert.delivery_abandoned`)."""
    queue_size: int = 256
    """Pending alerts per channel."""
    attempt_timeout_s: float = 15.0
    """Upper bound on one delivery attempt."""

    def __post_init__(self) -> None:
        if self.rate_limit_s < 0 or self.retry_base_s < 0 or self.retry_max_s < 0:
            raise ValueError("alert rate limit and retry delays must be non-negative")
        if self.max_attempts < 1 or self.queue_size < 1 or self.attempt_timeout_s <= 0:
            raise ValueError("max_attempts, queue_size and attempt_timeout_s must be positive")

    def backoff_s(self, failed_attempts: int) -> float:
        """Delay before the next attempt after `failed_attempts` consecutive failures."""
        return min(self.retry_max_s, self.retry_base_s * 2.0 ** (failed_attempts - 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelStats:
    """Delivery counters of one channel (named by its index in the URL list)."""

    index: int
    delivered: int
    failed_attempts: int
    abandoned: int
    dropped: int
    pending: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DispatcherStats:
    """Counters of an `AlertDispatcher` at one instant."""

    submitted: int
    """Alerts accepted by `submit` (after rate limiting)."""
    suppressed: int
    """Alerts suppressed by the per-key rate limit, or submitted after close."""
    channels: tuple[ChannelStats, ...]

    @property
    def delivered(self) -> int:
        """Deliveries summed over channels."""
        return sum(c.delivered for c in self.channels)

    @property
    def dropped(self) -> int:
        """Alerts dropped by full queues, summed over channels."""
        return sum(c.dropped for c in self.channels)


class _ChannelQueue:
    """A bounded FIFO of alerts for one channel that overflows by dropping the least urgent."""

    __slots__ = ("_items", "_size", "dropped", "wake")

    def __init__(self, size: int) -> None:
        self._items: deque[Alert] = deque()
        self._size = size
        self.dropped = 0
        self.wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def push(self, alert: Alert) -> Alert | None:
        """Append `alert`; on overflow drop and return the oldest least urgent alert."""
        self._items.append(alert)
        self.wake.set()
        if len(self._items) <= self._size:
            return None
        victim = min(self._items, key=lambda a: _DROP_RANK[a.severity])  # first = oldest
        self._items.remove(victim)
        self.dropped += 1
        return victim

    def pop(self) -> Alert | None:
        return self._items.popleft() if self._items else None


class _Worker:
    """Delivery state of one channel: its queue and counters."""

    __slots__ = ("abandoned", "channel", "delivered", "failed_attempts", "in_flight", "queue")

    def __init__(self, channel: AppriseChannel, queue_size: int) -> None:
        self.channel = channel
        self.queue = _ChannelQueue(queue_size)
        self.delivered = 0
        self.failed_attempts = 0
        self.abandoned = 0
        self.in_flight: Alert | None = None

    def stats(self) -> ChannelStats:
        return ChannelStats(
            index=self.channel.index,
            delivered=self.delivered,
            failed_attempts=self.failed_attempts,
            abandoned=self.abandoned,
            dropped=self.queue.dropped,
            pending=len(self.queue),
        )


class AlertDispatcher:
    """Fans alerts out to apprise channels without ever making the caller wait.

    Call `submit` from the event loop's thread. Run `run()` as a task for the daemon's lifetime
    and `await aclose()` on shutdown; `aclose` also delivers on its own if `run` never started.
    """

    def __init__(
        self,
        urls: Sequence[SecretStr],
        *,
        options: DispatcherOptions | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._options = options or DispatcherOptions()
        self._clock: Clock = clock or WallClock()
        self._workers = tuple(
            _Worker(
                AppriseChannel(url, index=i, timeout_s=self._options.attempt_timeout_s),
                self._options.queue_size,
            )
            for i, url in enumerate(urls)
        )
        self._last_accepted: dict[str, tuple[Severity, int]] = {}
        self._submitted = 0
        self._suppressed = 0
        self._closing = False
        self._tasks: list[asyncio.Task[None]] = []
        self._done: asyncio.Future[list[BaseException | None]] | None = None
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, len(self._workers)), thread_name_prefix="hedgebot-alert"
        )

    def __repr__(self) -> str:
        return f"AlertDispatcher(channels={len(self._workers)})"

    def submit(self, alert: Alert) -> None:
        """Queue `alert` for every channel unless rate-limited. Never blocks, never raises."""
        try:
            self._submit(alert)
        except Exception:
            _log.exception("alert.submit_failed", key=getattr(alert, "key", None))

    def _submit(self, alert: Alert) -> None:
        if self._closing:
            self._suppressed += 1
            _log.warning("alert.submitted_after_close", key=alert.key)
            return
        if not self._accept(alert):
            self._suppressed += 1
            return
        self._submitted += 1
        for worker in self._workers:
            victim = worker.queue.push(alert)
            if victim is not None:
                _log.warning(
                    "alert.dropped",
                    channel=worker.channel.index,
                    key=victim.key,
                    severity=victim.severity.value,
                )

    def _accept(self, alert: Alert) -> bool:
        """Apply the per-key rate limit, remembering what was accepted."""
        now_ms = self._clock.now_ms()
        window_ms = self._options.rate_limit_s * 1000.0
        last = self._last_accepted.get(alert.key)
        if last is not None and last[0] is alert.severity and now_ms - last[1] < window_ms:
            return False
        self._last_accepted[alert.key] = (alert.severity, now_ms)
        if len(self._last_accepted) > 4096:
            self._forget_before(now_ms - window_ms)
        return True

    def _forget_before(self, cutoff_ms: float) -> None:
        for key in [k for k, (_, ms) in self._last_accepted.items() if ms < cutoff_ms]:
            del self._last_accepted[key]

    def stats(self) -> DispatcherStats:
        """Counters so far (cheap: for metrics and tests)."""
        return DispatcherStats(
            submitted=self._submitted,
            suppressed=self._suppressed,
            channels=tuple(w.stats() for w in self._workers),
        )

    async def run(self) -> None:
        """Deliver alerts until `aclose` has flushed them; cancelling it stops delivery."""
        done = self._start_workers()
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            self._cancel_workers()
            raise

    async def aclose(self, timeout_s: float = 5.0) -> None:
        """Stop accepting alerts and deliver what is pending, giving up after `timeout_s`."""
        self._closing = True
        for worker in self._workers:
            worker.queue.wake.set()
        done = self._start_workers()
        try:
            await asyncio.wait_for(asyncio.shield(done), timeout_s)
        except TimeoutError:
            self._cancel_workers()
            await done
        self._executor.shutdown(wait=False, cancel_futures=True)
        left = sum(len(w.queue) + (w.in_flight is not None) for w in self._workers)
        if left:
            _log.warning("alert.flush_incomplete", pending=left)

    def _start_workers(self) -> asyncio.Future[list[BaseException | None]]:
        """Start one delivery task per channel, once; the future completes when all have ended."""
        if self._done is None:
            self._tasks = [
                asyncio.create_task(self._deliver_loop(w), name=f"alert-channel-{w.channel.index}")
                for w in self._workers
            ]
            self._done = asyncio.gather(*self._tasks, return_exceptions=True)
        return self._done

    def _cancel_workers(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _deliver_loop(self, worker: _Worker) -> None:
        try:
            await self._drain(worker)
        except Exception:
            _log.exception("alert.worker_crashed", channel=worker.channel.index)

    async def _drain(self, worker: _Worker) -> None:
        while True:
            alert = worker.queue.pop()
            if alert is not None:
                worker.in_flight = alert
                await self._deliver(worker, alert)
                worker.in_flight = None
                continue
            if self._closing:
                return
            worker.queue.wake.clear()
            await worker.queue.wake.wait()

    async def _deliver(self, worker: _Worker, alert: Alert) -> None:
        """Try one alert on one channel with exponential backoff until it lands or gives up."""
        index = worker.channel.index
        for attempt in range(1, self._options.max_attempts + 1):
            reason = await self._attempt(worker.channel, alert)
            if reason is None:
                worker.delivered += 1
                _log.debug("alert.delivered", channel=index, key=alert.key, attempt=attempt)
                return
            worker.failed_attempts += 1
            _log.warning(
                "alert.delivery_failed",
                channel=index,
                key=alert.key,
                attempt=attempt,
                reason=reason,
            )
            if attempt < self._options.max_attempts:
                await asyncio.sleep(self._options.backoff_s(attempt))
        worker.abandoned += 1
        _log.error("alert.delivery_abandoned", channel=index, key=alert.key)

    async def _attempt(self, channel: AppriseChannel, alert: Alert) -> str | None:
        loop = asyncio.get_running_loop()
        try:
            # asyncio.timeout, not wait_for (Python 3.11's drops a cancel that lands with the
            # answer), so the worker's loop stops when its cancellation comes
            async with asyncio.timeout(self._options.attempt_timeout_s + 1.0):
                return await loop.run_in_executor(self._executor, channel.send, alert)
        except TimeoutError:
            return "timeout"
