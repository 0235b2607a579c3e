"""The one clock abstraction: wall time for live and paper, simulated time for the simulator.

Nothing else in hedgebot calls `time.time()` or `asyncio.sleep()` to measure or wait for
trading time; it asks a `Clock`. `SimulatedClock` advances virtual time and tells its listeners
(the simulated exchange) so that they can move prices and match orders up to the new instant.

Simulated time has exactly one driver: the hedge loop's `sleep`. With ``speed=None`` it jumps
ahead at once (hours of simulated trading in seconds); with ``speed=k`` it waits ``1/k`` real
seconds per simulated second (``speed=1`` is real time, for the demo).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """Time as hedgebot sees it."""

    def now_ms(self) -> int:
        """Current time in epoch milliseconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Let `seconds` of this clock's time pass."""
        ...

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Return when `event` is set or `seconds` of this clock's time have passed."""
        ...


class WallClock:
    """Real time."""

    def now_ms(self) -> int:
        """Current wall time in epoch milliseconds."""
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        """Sleep in real time."""
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Wake early when `event` is set (a market or account update arrived)."""
        # asyncio.timeout, not wait_for: in Python 3.11 wait_for returns normally when the
        # event and a cancellation of this task land in the same loop turn (CPython gh-86296),
        # and the hedge loop around this wait would then outlive its own cancellation
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
        event.clear()


TimeListener = Callable[[int], None]


class SimulatedClock:
    """Virtual time that advances only when told to, notifying listeners on every advance."""

    def __init__(self, start_ms: int, *, speed: float | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive, or None for as fast as possible")
        self._now_ms = start_ms
        self._speed = speed
        self._listeners: list[TimeListener] = []

    def now_ms(self) -> int:
        """Current simulated time in epoch milliseconds."""
        return self._now_ms

    def add_listener(self, listener: TimeListener) -> None:
        """Call `listener(now_ms)` after every advance, in registration order."""
        self._listeners.append(listener)

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and notify listeners synchronously."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now_ms += round(seconds * 1000)
        for listener in self._listeners:
            listener(self._now_ms)

    async def sleep(self, seconds: float) -> None:
        """Advance simulated time by `seconds`, pacing to real time when a speed is set."""
        if self._speed is not None:
            await asyncio.sleep(seconds / self._speed)
        else:
            await asyncio.sleep(0)
        self.advance(seconds)

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        """Simulated time is driven by the loop alone: always let `seconds` pass."""
        await self.sleep(seconds)
        event.clear()
