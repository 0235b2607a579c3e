"""A restart finds its own history: the journal keeps every run, and client ids never repeat."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from hedgebot.app import Runtime
from hedgebot.core.lifecycle import OrderState
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import OrderRequest, Side
from tests.support.daemon_harness import run_for, settings_for


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
    """An order journaled but never sent (crash between intent and send) is adopted at start-up
    as UNKNOWN and blocks its instrument while it is looked up by client id. Once a lookup
    reached the venue and found no order with its label, it is declared LOST (never placed)
    within seconds: no halt, and only then may that instrument be hedged again — once."""
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

    async def scenario() -> tuple[list[str], str, int, dict[InstrumentKey, str], dict[str, int]]:
        runtime = Runtime(settings, live=False, observers=[])
        engine = await runtime.start()
        states = [o.state.value for o in runtime.executor.live_orders()]
        blocked = runtime.executor.blocking_reason(key) or ""
        started = runtime.clock.now_ms()
        await engine.loop(asyncio.Event(), stop_at_ms=started + 600_000)
        halted = dict(runtime.executor.halted)
        events = dict(runtime.events)
        await runtime.shutdown()
        return states, blocked, started, halted, events

    states, blocked, started, halted, events = asyncio.run(scenario())
    assert states == [OrderState.UNKNOWN.value]
    assert "hbcrashed-1" in blocked
    assert halted == {}
    assert events.get("order.not_placed") == 1
    assert "order.lost" not in events
    with sqlite3.connect(tmp_path / "journal-paper.sqlite") as db:
        rows = dict(db.execute("SELECT client_id, state FROM orders").fetchall())
        resolved_ms = db.execute(
            "SELECT updated_ms FROM orders WHERE client_id = 'hbcrashed-1'"
        ).fetchone()[0]
        first_btc = db.execute(
            "SELECT MIN(created_ms) FROM orders WHERE symbol = 'BTC-PERPETUAL' AND client_id != ?",
            ("hbcrashed-1",),
        ).fetchone()[0]
    assert rows["hbcrashed-1"] == "lost"
    # The venue answered "no order with this label" and no request of the dead run can still
    # be on its way: resolved in seconds (it took half a minute of backed-off lookups before).
    assert resolved_ms - started <= 5_000, "an unsent intent is resolved in seconds"
    assert first_btc is not None, "BTC is hedged once the crashed order is resolved"
    assert first_btc >= resolved_ms, "no BTC hedge while the crashed order was unresolved"
