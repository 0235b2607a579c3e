"""Fixtures shared by the venue adapters' tests: the scriptable fake Deribit endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.ccxt_fake_deribit import FakeDeribit, running_fake_deribit


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeDeribit, str, str]]:
    async with running_fake_deribit() as running:
        yield running
