"""The local exchange's timing faults, seen through unmodified ccxt: resting orders, cancels whose
confirmation is lost, spaced reads and late notifications."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from hedgebot_localvenues.deribit import DeribitSimServer
from tests.support.local_deribit import subscribed, until

PERP = "BTC/USD:BTC"
WAIT = 5.0


async def _order_update(exchange: Any, order_id: str, status: str, timeout_s: float) -> bool:
    """True if watch_orders reports `order_id` in `status` within `timeout_s`."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                for order in await exchange.watch_orders():
                    if order["id"] == order_id and order["status"] == status:
                        return True
    except TimeoutError:
        return False


async def test_a_lost_cancel_confirmation_is_never_streamed_but_the_venue_knows(
    server: DeribitSimServer, exchange: Any
) -> None:
    """An order armed to rest rests even when priced through the book; its cancel works (the
    venue answers the call and reports it cancelled by label) but no order notification tells
    the stream, while a normal cancel is streamed."""
    watching = asyncio.ensure_future(exchange.watch_orders())
    await until(server, lambda: subscribed(server, "user.orders.any.any.raw"))
    watching.cancel()
    price = round((await exchange.fetch_ticker(PERP))["ask"] * 1.005 * 2) / 2
    server.faults.rest_next_orders(2)
    lost = await exchange.create_order(PERP, "limit", "buy", 100, price, {"label": "lost"})
    kept = await exchange.create_order(PERP, "limit", "buy", 100, price, {"label": "kept"})
    assert lost["status"] == kept["status"] == "open"
    server.faults.lose_cancel_confirmations(1)
    await exchange.cancel_order(lost["id"], PERP)
    assert not await _order_update(exchange, lost["id"], "canceled", 1.0)
    by_label = await exchange.private_get_get_order_state_by_label(
        {"label": "lost", "currency": "BTC"}
    )
    assert [o["order_state"] for o in by_label["result"]] == ["cancelled"]
    await exchange.cancel_order(kept["id"], PERP)
    assert await _order_update(exchange, kept["id"], "canceled", WAIT)


async def test_a_method_delay_spaces_the_requests_of_one_read(
    server: DeribitSimServer, exchange: Any
) -> None:
    """The account summaries answer 300 ms late, the positions at once."""
    server.faults.delay_method("private/get_account_summaries", 300)
    started = time.monotonic()
    await exchange.fetch_positions()
    positions_s = time.monotonic() - started
    started = time.monotonic()
    await exchange.fetch_balance()
    balance_s = time.monotonic() - started
    assert balance_s >= 0.3
    assert positions_s < 0.3
    server.faults.reset()
    assert server.faults.state()["method_delay_ms"] == {}


async def test_fault_commands_arm_the_timing_faults(server: DeribitSimServer) -> None:
    """The control endpoint's JSON commands arm each timing fault; bad ones are refused."""
    faults = server.faults
    await faults.apply({"action": "notify_delay", "family": "user.trades", "ms": 500})
    await faults.apply({"action": "method_delay", "method": "private/get_positions", "ms": 40})
    await faults.apply({"action": "lose_cancel_confirmation", "count": 2})
    done = await faults.apply({"action": "rest_orders", "count": 1})
    assert done["state"]["notify_delay_ms"] == {"user.trades": 500}
    assert done["state"]["method_delay_ms"] == {"private/get_positions": 40}
    assert done["state"]["lost_cancel_confirmations"] == 2
    assert done["state"]["resting_orders"] == 1
    with pytest.raises(ValueError, match="family"):
        await faults.apply({"action": "notify_delay", "ms": 5})
