"""Fault injection of the local Deribit exchange, and what unmodified ccxt makes of each fault."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import ccxt
import pytest

from hedgebot_localvenues.deribit import DeribitSimServer
from hedgebot_localvenues.deribit.ratelimit import CreditPolicy, CreditPools
from tests.support.local_deribit import ccxt_deribit, running_sim, subscribed, until

PERP = "BTC/USD:BTC"
WAIT = 5.0


@pytest.fixture
async def exchange(server: DeribitSimServer) -> AsyncIterator[Any]:
    client = ccxt_deribit(server, timeout_ms=1000)
    await client.load_markets()
    try:
        yield client
    finally:
        await client.close()


async def _price_through_the_book(exchange: Any) -> float:
    ask = (await exchange.fetch_ticker(PERP))["ask"]
    return float(round(ask * 1.005 * 2) / 2)


async def _orders_by_label(exchange: Any, label: str) -> list[dict[str, Any]]:
    found = await exchange.private_get_get_order_state_by_label({"label": label})
    result: list[dict[str, Any]] = found["result"]
    return result


async def test_too_many_requests_is_ddos_protection_and_closes_the_connection(
    server: DeribitSimServer, exchange: Any
) -> None:
    """10028 reaches ccxt as DDoSProtection; the HTTP answer is a 429 that closes the connection."""
    server.faults.rate_limit_next(1)
    with pytest.raises(ccxt.DDoSProtection):
        await exchange.fetch_ticker(PERP)
    assert (await exchange.fetch_ticker(PERP))["bid"] > 0
    server.faults.rate_limit_next(1)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/api/v2/public/get_time") as response,
    ):
        body = await response.json()
        assert response.status == 429
        assert response.headers["Connection"] == "close"
    assert body["error"] == {"message": "too_many_requests", "code": 10028}
    outcomes = [r.outcome for r in server.requests.entries()][-3:]
    assert outcomes == ["error:10028", "ok", "error:10028"]


async def test_too_many_requests_on_a_websocket_closes_it(server: DeribitSimServer) -> None:
    """Over a websocket the 10028 error frame is followed by the connection closing."""
    server.faults.rate_limit_next(1)
    async with aiohttp.ClientSession() as http, http.ws_connect(server.ws_url) as ws:
        await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "public/get_time", "params": {}})
        frame = await asyncio.wait_for(ws.receive_json(), WAIT)
        closing = await asyncio.wait_for(ws.receive(), WAIT)
    assert (frame["id"], frame["error"]["code"]) == (1, 10028)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_error_frame_stalls_watches_until_the_client_is_reopened(
    server: DeribitSimServer, exchange: Any
) -> None:
    """A JSON-RPC error frame kills ccxt's receive loop: watches hang; a new client recovers."""
    crashes: list[BaseException] = []
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(lambda _loop, context: crashes.append(context["exception"]))
    try:
        await asyncio.wait_for(exchange.watch_ticker(PERP), WAIT)
        assert await server.faults.send_error_frame(code=11094) == 1
        await until(server, lambda: bool(crashes))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(exchange.watch_ticker(PERP), 0.5)
        assert len(server.hub.sessions) == 1  # the socket is still open: a silent stall
    finally:
        loop.set_exception_handler(None)
    assert isinstance(crashes[0], ccxt.ExchangeError)
    assert "11094" in str(crashes[0])
    await exchange.close()
    reopened = ccxt_deribit(server)
    try:
        await reopened.load_markets()
        assert (await asyncio.wait_for(reopened.watch_ticker(PERP), WAIT))["bid"] > 0
    finally:
        await reopened.close()


async def test_a_short_keepalive_turns_the_stall_into_request_timeout(
    server: DeribitSimServer,
) -> None:
    """With keepAlive lowered, the stalled client misses pongs and the watch raises in time."""
    client = ccxt_deribit(server)
    client.streaming["keepAlive"] = 200
    try:
        await client.load_markets()
        await asyncio.wait_for(client.watch_ticker(PERP), WAIT)
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, _context: None)  # ccxt's callback crash
        try:
            await server.faults.send_error_frame()
            with pytest.raises(ccxt.RequestTimeout, match="keepalive"):
                await asyncio.wait_for(client.watch_ticker(PERP), WAIT)
        finally:
            loop.set_exception_handler(None)
    finally:
        await client.close()


async def test_dropped_websockets_raise_network_error_then_resubscribe(
    server: DeribitSimServer, exchange: Any
) -> None:
    """Pending watches fail with NetworkError on a drop; the next watch reconnects and works.
    The pending watch is on our orders, of which there are none: nothing can resolve it before
    the drop (a ticker watch could be answered by the next ticker first)."""
    await asyncio.wait_for(exchange.watch_ticker(PERP), WAIT)
    pending = asyncio.ensure_future(exchange.watch_orders(PERP))
    await until(server, lambda: subscribed(server, "user.orders.any.any.raw"))
    assert await server.faults.drop_websockets() == 1
    with pytest.raises(ccxt.NetworkError):
        await asyncio.wait_for(pending, WAIT)
    again = await asyncio.wait_for(exchange.watch_ticker(PERP), WAIT)
    assert again["bid"] > 0
    assert [m for m in server.requests.methods() if m == "public/subscribe"] == [
        "public/subscribe",
        "public/subscribe",
    ]


async def test_lost_order_answer_times_out_but_the_order_exists_by_label(
    server: DeribitSimServer, exchange: Any
) -> None:
    """When the answer never comes ccxt raises RequestTimeout, yet the label finds the order."""
    price = await _price_through_the_book(exchange)
    server.faults.lose_next_order(mode="hang")
    with pytest.raises(ccxt.RequestTimeout):
        await exchange.create_order(PERP, "limit", "buy", 100, price, {"label": "lost-1"})
    found = await _orders_by_label(exchange, "lost-1")
    assert [(o["order_state"], o["filled_amount"]) for o in found] == [("filled", 100)]
    (lost,) = server.requests.order_entry_calls()
    assert (lost.outcome, lost.details["label"], lost.details["amount"]) == (
        "lost",
        "lost-1",
        "100",
    )


async def test_dropped_order_connection_is_resent_by_aiohttp_and_doubles_the_order(
    server: DeribitSimServer, exchange: Any
) -> None:
    """Dropping the connection under a GET order makes aiohttp resend it: two fills, one label."""
    price = await _price_through_the_book(exchange)
    server.faults.lose_next_order(mode="close")
    order = await exchange.create_order(PERP, "limit", "buy", 100, price, {"label": "twice"})
    assert order["status"] == "closed"  # ccxt saw nothing wrong
    found = await _orders_by_label(exchange, "twice")
    assert [o["order_state"] for o in found] == ["filled", "filled"]
    assert [r.outcome for r in server.requests.order_entry_calls()] == ["lost", "ok"]


async def test_answer_delay_turns_into_request_timeouts(
    server: DeribitSimServer, exchange: Any
) -> None:
    """Delayed answers arrive late; beyond ccxt's timeout they become RequestTimeout."""
    server.faults.delay(300)
    started = time.monotonic()
    assert (await exchange.fetch_ticker(PERP))["bid"] > 0
    assert time.monotonic() - started >= 0.3
    server.faults.delay(1500)
    with pytest.raises(ccxt.RequestTimeout):
        await exchange.fetch_ticker(PERP)
    server.faults.reset()
    assert (await exchange.fetch_ticker(PERP))["bid"] > 0


async def test_injected_error_codes_reach_ccxt_without_placing_orders(
    server: DeribitSimServer, exchange: Any
) -> None:
    """An armed 10009 answers the next buy as InsufficientFunds and no order is placed."""
    price = await _price_through_the_book(exchange)
    server.faults.fail_next(code=10009, methods=["private/buy"])
    with pytest.raises(ccxt.InsufficientFunds):
        await exchange.create_order(PERP, "limit", "buy", 100, price, {"label": "refused"})
    assert await _orders_by_label(exchange, "refused") == []
    order = await exchange.create_order(PERP, "limit", "buy", 100, price, {"label": "refused"})
    assert order["status"] == "closed"


async def test_request_log_proves_a_read_only_session_never_entered_orders(
    server: DeribitSimServer, exchange: Any
) -> None:
    """Reads are logged with their account; no order-entry call appears unless one is made."""
    await exchange.fetch_balance()
    await exchange.fetch_positions()
    await exchange.fetch_open_orders(PERP)
    await asyncio.wait_for(exchange.watch_ticker(PERP), WAIT)
    assert server.requests.order_entry_calls() == ()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/_sim/requests") as response,
    ):
        logged = (await response.json())["requests"]
    methods = {(r["method"], r["account"], r["transport"]) for r in logged}
    assert ("private/get_account_summaries", "main", "http") in methods
    assert ("private/get_positions", "main", "http") in methods
    assert ("public/subscribe", None, "ws") in methods
    assert not any(r["method"] in ("private/buy", "private/sell") for r in logged)


async def test_fault_control_endpoint(server: DeribitSimServer, exchange: Any) -> None:
    """POST /_sim/faults arms faults by JSON; malformed commands are refused with 400."""
    async with aiohttp.ClientSession() as http:
        url = f"{server.url}/_sim/faults"
        async with http.post(url, json={"action": "fail", "code": 13009, "count": 2}) as armed:
            assert armed.status == 200
            assert (await armed.json())["state"]["errors"][0]["remaining"] == 2
        async with http.post(url, json={"action": "explode"}) as refused:
            assert refused.status == 400
        with pytest.raises(ccxt.AuthenticationError):
            await exchange.fetch_ticker(PERP)
        async with http.post(url, json={"action": "reset"}) as reset:
            assert (await reset.json())["state"]["errors"] == []
        async with http.post(f"{server.url}/_sim/advance", json={"seconds": 60}) as advanced:
            now = (await advanced.json())["now_ms"]
    assert (await exchange.fetch_ticker(PERP))["timestamp"] >= now - 1000


async def test_credit_limits_trip_bursts_that_ccxt_does_not_throttle() -> None:
    """With limits enforced, an unthrottled burst of orders hits 10028; ccxt's limiter does not."""
    credits = CreditPools(matching=CreditPolicy(burst=3, rate=5))  # Deribit's rate, tiny burst
    async with running_sim(credits=credits) as server:
        throttled = ccxt_deribit(server)
        unthrottled = ccxt_deribit(server, account="small", enable_rate_limit=False)
        try:
            await throttled.load_markets()
            await unthrottled.load_markets()
            for _ in range(6):  # twice the burst, paced by ccxt at 5 per second
                await throttled.create_order(PERP, "limit", "buy", 10, 30000)
            burst = [unthrottled.create_order(PERP, "limit", "buy", 10, 30000) for _ in range(6)]
            results = await asyncio.gather(*burst, return_exceptions=True)
        finally:
            await throttled.close()
            await unthrottled.close()
    refused = [r for r in results if isinstance(r, Exception)]
    assert refused
    assert all(isinstance(r, ccxt.DDoSProtection | ccxt.NetworkError) for r in refused)
    outcomes = [r.outcome for r in server.requests.order_entry_calls() if r.account == "main"]
    assert outcomes == ["ok"] * 6
