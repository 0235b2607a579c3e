"""A second hedgebot on the same account, with its own state directory (so no shared lock), is
fenced off by what the venue shows: the first one's orders and trades carry another
installation's client id, so the second refuses to trade those instruments, alerts, and shows
the halt in its turn view (/status) — it sends no hedge, although its target asks for one."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from hedgebot.app import Runtime
from hedgebot.config import load_settings
from hedgebot.model.trading import UnderlyingStatus
from hedgebot.model.view import TurnView
from tests.support.live_harness import (
    CONFIG,
    Watcher,
    daemon_settings,
    hedged_into_bands,
    local_exchange,
    run_until,
)


async def test_a_second_installation_on_the_same_account_never_sends(tmp_path: Path) -> None:
    async with local_exchange(faults=False) as (server, _book):
        first = Runtime(
            daemon_settings(server, tmp_path / "first", mode="live"), live=True, observers=[]
        )
        installation = first.journal.installation_id()
        await run_until(first, Watcher(hedged_into_bands), timeout_s=60)
        creates_before = len(server.requests.order_entry_calls())

        base = daemon_settings(server, tmp_path / "second", mode="live")
        environ = {
            "HEDGEBOT__MODE": "live",
            "HEDGEBOT__STATE_DIR": str(tmp_path / "second"),
            "HEDGEBOT__VENUES__DERIBIT__REST_URL": server.url,
            "HEDGEBOT__VENUES__DERIBIT__WS_URL": server.ws_url,
            "HEDGEBOT__HTTP__ENABLED": "false",
            "HEDGEBOT__VENUES__DERIBIT__API_KEY": "sim-main",
            "HEDGEBOT__VENUES__DERIBIT__API_SECRET": "sim-main-secret",
            # A target far from where the first one left the book: it would hedge at once.
            "HEDGEBOT__HEDGES__BTC__TARGET": "3.0",
        }
        settings = load_settings(CONFIG, environ=environ)
        assert settings.hedges["BTC"].target == 3.0 != base.hedges["BTC"].target
        second = Runtime(settings, live=True, observers=[])
        fenced_turns: list[int] = []

        def fenced_a_while(view: TurnView) -> bool:
            """Both hedge instruments fenced, and five more turns wanting to hedge since."""
            rows = view.underlyings.values()
            if all(r.status is UnderlyingStatus.INSTRUMENT_HALTED for r in rows):
                fenced_turns.append(view.now_ms)
            return len(fenced_turns) >= 6

        fenced = Watcher(fenced_a_while)
        second.observers.append(fenced)
        stop = asyncio.Event()
        task = asyncio.create_task(second.run(stop))
        try:
            await asyncio.wait_for(fenced.reached.wait(), 90)
        finally:
            stop.set()
            await task
        creates_after = len(server.requests.order_entry_calls())
    assert creates_after == creates_before, "the second installation sent an order"
    with sqlite3.connect(tmp_path / "second" / "journal-live.sqlite") as db:
        orders = db.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
        fences = db.execute(
            "SELECT COUNT(*) FROM events WHERE kind = 'fence.foreign_hedger'"
        ).fetchone()[0]
        flags = [r[0] for r in db.execute("SELECT name FROM flags ORDER BY name")]
    db.close()
    assert orders == 0
    assert fences == 2
    assert flags == ["instrument:deribit:BTC-PERPETUAL", "instrument:deribit:ETH-PERPETUAL"]
    row = fenced.views[-1].underlyings["BTC"]
    assert f"installation {installation}" in row.trading
