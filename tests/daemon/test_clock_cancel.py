"""The wall clock's wait, which paces the hedge loop, always obeys a cancellation."""

from __future__ import annotations

import asyncio

import pytest

from hedgebot.clock import WallClock


async def test_a_cancel_landing_with_the_wake_up_stops_the_wait() -> None:
    """A market update (the event) and a shutdown (the cancel) in the same loop turn: the wait
    ends cancelled, so the hedge loop around it stops. With Python 3.11's asyncio.wait_for the
    wait returned normally and the cancellation was lost, so the loop ran on after shutdown."""
    event = asyncio.Event()
    waiting = asyncio.create_task(WallClock().wait(event, 60))
    await asyncio.sleep(0)  # one loop turn: the wait starts and parks
    assert not waiting.done()
    event.set()
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
