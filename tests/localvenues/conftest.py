"""Fixtures shared by the local Deribit exchange's tests: a running exchange on an ephemeral
127.0.0.1 port, and unmodified ccxt logged in to it. A test module that needs another set-up
(a short heartbeat, a short ccxt timeout) overrides the fixture by name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from hedgebot_localvenues.deribit import DeribitSimServer
from tests.support.local_deribit import ccxt_deribit, running_sim


@pytest.fixture
async def server() -> AsyncIterator[DeribitSimServer]:
    async with running_sim() as running:
        yield running


@pytest.fixture
async def exchange(server: DeribitSimServer) -> AsyncIterator[Any]:
    client = ccxt_deribit(server)
    await client.load_markets()
    try:
        yield client
    finally:
        await client.close()
