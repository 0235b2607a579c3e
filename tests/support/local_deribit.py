"""Helpers for tests that talk to the local Deribit exchange (`hedgebot_localvenues.deribit`)
through unmodified ccxt.

Owns `running_sim` (a started server on an ephemeral 127.0.0.1 port, stopped afterwards),
`TEST_BOOK` (a small book with a fast price grid) and `ccxt_deribit` (a ``ccxt.pro.deribit``
pointed at the server, with ``urls['test']`` removed so nothing can reach a real testnet).
ccxt is imported lazily, inside `ccxt_deribit` only. It lives with the tests, not in
`hedgebot_localvenues`, so that the local exchange itself never imports ccxt.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from pydantic import SecretStr

from hedgebot_localvenues.deribit.book_config import SeedPosition, SimAccount, SimBook
from hedgebot_localvenues.deribit.cli import build_server
from hedgebot_localvenues.deribit.ratelimit import CreditPools
from hedgebot_localvenues.deribit.server import DeribitSimServer

TEST_BOOK = SimBook(
    symbols=[
        "BTC-PERPETUAL",
        "BTC-27MAR26",
        "BTC-27MAR26-60000-C",
        "BTC-27MAR26-50000-P",
        "ETH-PERPETUAL",
        "BTC_USDC-PERPETUAL",
    ],
    accounts={
        "main": SimAccount(
            api_key="test-main",
            api_secret=SecretStr("test-main-secret"),
            collateral={"BTC": 10.0, "ETH": 50.0, "USDC": 50_000.0},
            positions=[SeedPosition(symbol="BTC-27MAR26-60000-C", amount=20.0, price=0.06)],
        ),
        "small": SimAccount(
            api_key="test-small",
            api_secret=SecretStr("test-small-secret"),
            collateral={"BTC": 0.01},
        ),
    },
    step_seconds=0.5,
)
"""Two accounts: ``main`` (10 BTC, long 20 calls) and ``small`` (0.01 BTC)."""


@asynccontextmanager
async def running_sim(
    book: SimBook = TEST_BOOK,
    *,
    speed: float = 20.0,
    tick_s: float = 0.02,
    seed: int = 7,
    faults_http: bool = True,
    heartbeat_min_s: float = 10.0,
    credits: CreditPools | None = None,
) -> AsyncIterator[DeribitSimServer]:
    """A started local exchange on an ephemeral port; stopped on exit."""
    server = await build_server(
        book,
        seed=seed,
        speed=speed,
        port=0,
        faults_http=faults_http,
        tick_s=tick_s,
        heartbeat_min_s=heartbeat_min_s,
        credits=credits,
    )
    async with server:
        yield server


def ccxt_deribit(
    server: DeribitSimServer,
    *,
    account: str = "main",
    book: SimBook = TEST_BOOK,
    secret: str | None = None,
    timeout_ms: int = 3000,
    options: dict[str, Any] | None = None,
    enable_rate_limit: bool = True,
) -> Any:
    """A ``ccxt.pro.deribit`` logged in as `account` of `book`, talking only to `server`."""
    import ccxt.pro  # imported here: ccxt is slow to import and only tests need it

    creds = book.accounts[account]
    config: dict[str, Any] = {
        "apiKey": creds.api_key,
        "secret": secret if secret is not None else creds.api_secret.get_secret_value(),
        "timeout": timeout_ms,
        "options": options or {},
        "enableRateLimit": enable_rate_limit,
    }
    exchange = ccxt.pro.deribit(config)
    exchange.urls["api"] = {"rest": server.url, "ws": server.ws_url}
    exchange.urls.pop("test", None)
    return exchange


async def until(
    server: DeribitSimServer, condition: Callable[[], bool], *, timeout_s: float = 5.0
) -> None:
    """Wait, clock tick by clock tick, until `condition()` holds; TimeoutError otherwise."""
    async with asyncio.timeout(timeout_s):
        while not condition():
            await server.state.next_tick()


def subscribed(server: DeribitSimServer, channel: str) -> bool:
    """True once some websocket session of `server` is subscribed to `channel`."""
    return any(channel in session.channels for session in server.hub.sessions)
