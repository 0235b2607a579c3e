"""Harness for end-to-end runs: the local Deribit-protocol exchange in-process on 127.0.0.1, and
the real daemon (composition root, ccxt gateway, unmodified ccxt) trading against it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from hedgebot.app import Runtime
from hedgebot.config import Settings, load_settings
from hedgebot.model.view import TurnView
from hedgebot_localvenues.deribit.book_config import SimBook, live_book
from hedgebot_localvenues.deribit.cli import build_server
from hedgebot_localvenues.deribit.server import DeribitSimServer

CONFIG = Path(__file__).resolve().parents[2] / "config" / "deribit-local.toml"


@asynccontextmanager
async def local_exchange(*, faults: bool = True) -> AsyncIterator[tuple[DeribitSimServer, SimBook]]:
    """The local exchange on an ephemeral port, in real time, serving the default live book."""
    book = live_book(dt.datetime.now(dt.UTC))
    server = await build_server(book, seed=11, speed=1.0, port=0, faults_http=faults)
    async with server:
        yield server, book


def daemon_settings(
    server: DeribitSimServer, state_dir: Path, *, mode: str, book: SimBook | None = None
) -> Settings:
    """config/deribit-local.toml pointed at `server`, journaling into `state_dir`."""
    environ = {
        "HEDGEBOT__MODE": mode,
        "HEDGEBOT__STATE_DIR": str(state_dir),
        "HEDGEBOT__VENUES__DERIBIT__REST_URL": server.url,
        "HEDGEBOT__VENUES__DERIBIT__WS_URL": server.ws_url,
        "HEDGEBOT__VENUES__DERIBIT__STALE_AFTER_S": "3",
        "HEDGEBOT__HTTP__ENABLED": "false",
    }
    if mode == "live":
        environ["HEDGEBOT__VENUES__DERIBIT__API_KEY"] = "sim-main"
        environ["HEDGEBOT__VENUES__DERIBIT__API_SECRET"] = "sim-main-secret"
    if book is not None:
        seed = book.accounts["main"]
        positions = [{"symbol": p.symbol, "amount": p.amount} for p in seed.positions]
        environ["HEDGEBOT__ACCOUNTS__MAIN__POSITIONS"] = json.dumps(positions)
    return load_settings(CONFIG, environ=environ)


class Watcher:
    """A turn observer that keeps the views and signals when a condition first holds."""

    def __init__(self, condition: Callable[[TurnView], bool]) -> None:
        self.views: list[TurnView] = []
        self._condition = condition
        self.reached = asyncio.Event()

    def on_turn(self, view: TurnView) -> None:
        """Record; set `reached` when the condition holds."""
        self.views.append(view)
        if self._condition(view):
            self.reached.set()


def hedged_into_bands(view: TurnView) -> bool:
    """Every underlying hedged at least once and its carried delta inside its band."""
    return all(
        row.hedge_orders >= 1 and row.fills >= 1 and row.price > 0 and not row.outside_band
        for row in view.underlyings.values()
    )


async def run_until(
    runtime: Runtime, watcher: Watcher, *, timeout_s: float, then: Callable[[], Any] | None = None
) -> None:
    """Run the daemon until the watcher's condition holds (then stop it cleanly)."""
    runtime.observers.append(watcher)
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run(stop))
    try:
        await asyncio.wait_for(watcher.reached.wait(), timeout_s)
        if then is not None:
            await then()
    finally:
        stop.set()
        await task
