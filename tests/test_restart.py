"""A restart finds its own history: the journal keeps every run, and client ids never repeat."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from hedgebot.app import Runtime
from hedgebot.instruments import InstrumentKey
from hedgebot.lifecycle import OrderState
from hedgebot.orders import OrderRequest, Side
from tests.daemon_harness import run_for, settings_for


def _orders(journal: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(journal) as db:
        return db.execute("SELECT client_id, state FROM orders ORDER BY rowid").fetchall()


def test_second_run_continues_the_journal_with_fresh_client_ids(tmp_path: Path) -> None:
    """Two runs in one state directory share one journal; no client id is reused."""
    settings = settings_for(tmp_path)
    first, _ = asyncio.run(run_for(settings, seconds=600))
    after_first = _orders(Path(first.journal))
    second, _ = asyncio.run(run_for(settings, seconds=600))
    after_second = _orders(Path(second.journal))
    assert first.journal == second.journal
    assert after_first, "the first run placed no order"
    assert after_second[: len(after_first)] == after_first
    assert len(after_second) > len(after_first)
    ids = [client_id for client_id, _ in after_second]
    assert len(ids) == len(set(ids))


def test_an_intent_left_unsent_by_a_crash_blocks_its_instrument_until_resolved(
    tmp_path: Path,
) -> None:
    """An order journaled but never answered (crash between intent and send) is adopted at
    start-up as UNKNOWN, blocks its instrument, is looked up by client id, and — never found —
    is declared LOST and halts that instrument instead of being hedged twice."""
    settings = settings_for(tmp_path, LOOP_INTERVAL_S="1.0")
    crashed = Runtime(settings, live=False, observers=[])
    key = InstrumentKey("sim", "BTC-PERPETUAL")
    orphan = OrderRequest(
        client_id="hbcrashed-1",
        account="main",
        key=key,
        side=Side.SELL,
        amount=1000.0,
        limit_price=59_000.0,
    )
    crashed.journal.record_intent(orphan, underlying="BTC", ts_ms=crashed.clock.now_ms())
    crashed.journal.close()

    async def scenario() -> tuple[list[str], dict[InstrumentKey, str], str | None]:
        runtime = Runtime(settings, live=False, observers=[])
        engine = await runtime.start()
        states = [o.state.value for o in runtime.executor.live_orders()]
        blocked = runtime.executor.blocking_reason(key)
        stop_at = runtime.clock.now_ms() + 600_000
        await engine.loop(asyncio.Event(), stop_at_ms=stop_at)
        halted = dict(runtime.executor.halted)
        await runtime.shutdown()
        lost = "lost" if runtime.events.get("order.lost") else None
        return [*states, blocked or ""], halted, lost

    states, halted, lost = asyncio.run(scenario())
    assert states[0] == OrderState.UNKNOWN.value
    assert "hbcrashed-1" in states[-1]
    assert key in halted
    assert "hbcrashed-1" in halted[key]
    assert lost == "lost"
    rows = dict(_orders(tmp_path / "journal-paper.sqlite"))
    assert rows["hbcrashed-1"] == "lost"
    btc_orders = [cid for cid in rows if cid != "hbcrashed-1"]
    with sqlite3.connect(tmp_path / "journal-paper.sqlite") as db:
        btc_sent = db.execute(
            "SELECT COUNT(*) FROM orders WHERE symbol = 'BTC-PERPETUAL' AND client_id != ?",
            ("hbcrashed-1",),
        ).fetchone()[0]
    assert btc_sent == 0, "a BTC hedge was sent while the crashed order was unresolved"
    assert btc_orders, "ETH should still have been hedged"
