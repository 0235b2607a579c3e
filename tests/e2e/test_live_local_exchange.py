"""The daemon hedges a real-protocol Deribit account end to end: unmodified ccxt over HTTP and
WebSocket to the local exchange on 127.0.0.1, in live and in paper mode."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from structlog.testing import capture_logs

from hedgebot.app import Runtime
from tests.support.live_harness import (
    Watcher,
    daemon_settings,
    hedged_into_bands,
    local_exchange,
    run_until,
)
from tests.support.local_deribit import ccxt_deribit


async def _usd_neutrality(server: Any, book: Any) -> dict[str, float]:
    """Deribit's own account figures: equity + delta_total per currency (0 = USD neutral)."""
    exchange = ccxt_deribit(server, book=book)
    try:
        balance = await exchange.fetch_balance()
        return {
            summary["currency"]: float(summary["equity"]) + float(summary["delta_total"])
            for summary in balance["info"]["summaries"]
            if summary["currency"] in ("BTC", "ETH")
        }
    finally:
        await exchange.close()


async def test_live_mode_hedges_the_seeded_book_into_its_bands(tmp_path: Path) -> None:
    """Live: options and a future on the exchange are hedged with perpetuals until Deribit's own
    figures say the account is USD-neutral within the band; every order is sent exactly once."""
    async with local_exchange() as (server, book):
        settings = daemon_settings(server, tmp_path, mode="live")
        runtime = Runtime(settings, live=True, observers=[])
        watcher = Watcher(hedged_into_bands)
        with capture_logs() as logs:
            await run_until(runtime, watcher, timeout_s=60)
        neutrality = await _usd_neutrality(server, book)
        creates = [
            r
            for r in server.requests.order_entry_calls()
            if r.method in ("private/buy", "private/sell")
        ]
    bands = {"BTC": 0.25, "ETH": 2.0}
    for currency, residual in neutrality.items():
        assert abs(residual) <= bands[currency] * 1.5, (currency, residual)
    with sqlite3.connect(tmp_path / "journal-live.sqlite") as db:
        journaled = db.execute("SELECT client_id FROM orders").fetchall()
    labels = [str(r.details.get("label")) for r in creates]
    assert len(labels) == len(set(labels)), "a label was sent twice"
    assert sorted(labels) == sorted(cid for (cid,) in journaled)
    events = [entry["event"] for entry in logs]
    plans = [entry for entry in logs if entry["event"] == "live.plan"]
    assert plans, "live mode must print its trading plan before trading"
    plan = plans[0]
    assert plan["accounts"] == {"main": "deribit: hedges BTC-PERPETUAL, ETH-PERPETUAL"}
    assert "live.key_can_withdraw" in events, "the local exchange's key can withdraw: warn"
    first = watcher.views[0].underlyings
    assert abs(first["BTC"].net_delta) > 5, "the seeded book should start far outside the band"


async def test_paper_mode_never_calls_a_private_endpoint(tmp_path: Path) -> None:
    """Paper: real quotes from the exchange, fills simulated locally; the exchange's request log
    shows no private call at all, and no key was given."""
    async with local_exchange() as (server, book):
        settings = daemon_settings(server, tmp_path, mode="paper", book=book)
        assert settings.venues["deribit"].api_key is None
        runtime = Runtime(settings, live=False, observers=[])
        watcher = Watcher(hedged_into_bands)
        await run_until(runtime, watcher, timeout_s=60)
        methods = server.requests.methods()
    assert methods, "the feed made no request at all"
    private = [m for m in methods if m.startswith("private/")]
    assert private == []
    assert "public/ticker" in methods or "public/subscribe" in methods
