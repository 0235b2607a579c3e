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
from tests.support.local_deribit import ccxt_deribit


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


async def test_a_foreign_order_appearing_mid_run_is_fenced_by_the_patrol(tmp_path: Path) -> None:
    """Mid-run, with the private order and trade notifications withheld (and the quiet-stream
    reconcile far away), another installation's resting order appears on BTC-PERPETUAL: the
    periodic fence patrol reads it over REST, halts that instrument only, alerts, journals the
    halt and shows it in /status."""
    async with local_exchange(faults=True) as (server, book):
        environ = {
            "HEDGEBOT__MODE": "live",
            "HEDGEBOT__STATE_DIR": str(tmp_path),
            "HEDGEBOT__VENUES__DERIBIT__REST_URL": server.url,
            "HEDGEBOT__VENUES__DERIBIT__WS_URL": server.ws_url,
            "HEDGEBOT__VENUES__DERIBIT__STALE_AFTER_S": "3",
            "HEDGEBOT__VENUES__DERIBIT__RECONCILE_INTERVAL_S": "600",
            "HEDGEBOT__VENUES__DERIBIT__FENCE_INTERVAL_S": "1",
            "HEDGEBOT__HTTP__ENABLED": "false",
            "HEDGEBOT__VENUES__DERIBIT__API_KEY": "sim-main",
            "HEDGEBOT__VENUES__DERIBIT__API_SECRET": "sim-main-secret",
        }
        fenced = Watcher(lambda view: view.underlyings["BTC"].trading.startswith("halted"))
        runtime = Runtime(load_settings(CONFIG, environ=environ), live=True, observers=[fenced])
        other = ccxt_deribit(server, book=book)

        async def foreign_order() -> None:
            for family in ("user.orders", "user.trades", "user.changes"):
                server.faults.delay_notifications(family, 600_000)
            await other.load_markets()
            await other.create_order(
                "BTC/USD:BTC", "limit", "buy", 10, 1000.0, {"label": "hbabcdefn1"}
            )
            await asyncio.wait_for(fenced.reached.wait(), 60)

        try:
            await run_until(runtime, Watcher(hedged_into_bands), timeout_s=60, then=foreign_order)
        finally:
            await other.close()
    status = fenced.views[-1].to_dict()
    rows = status["underlyings"]
    assert isinstance(rows, dict)
    assert rows["BTC"]["trading"].startswith("halted: another hedgebot (installation abcdef)")
    assert not rows["ETH"]["trading"].startswith("halted"), "only the fenced instrument stops"
    with sqlite3.connect(tmp_path / "journal-live.sqlite") as db:
        fences = [
            r[0]
            for r in db.execute("SELECT detail FROM events WHERE kind = 'fence.foreign_hedger'")
        ]
        flags = [r[0] for r in db.execute("SELECT name FROM flags ORDER BY name")]
    db.close()
    assert len(fences) == 1
    assert "abcdef" in fences[0]
    assert flags == ["instrument:deribit:BTC-PERPETUAL"]
