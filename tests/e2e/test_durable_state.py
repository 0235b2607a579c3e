"""Trading state is durable and every stop is supervised: an operator halt, a kill switch and an
underlying halt survive a restart; a journal that can no longer be written (a full disk) and a
task that dies stop trading with a named failure, keeping everything journaled so far."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hedgebot.app import Runtime
from hedgebot.daemon.journal import Journal
from hedgebot.model import events
from hedgebot.model.errors import StateUnusable, TaskDied
from hedgebot.model.events import GuardHalted, KillSwitchEngaged
from hedgebot.model.trading import TradingState
from hedgebot.model.view import TurnView
from tests.support.daemon_harness import run_for, settings_for


def _events(journal: Path, kind: str) -> list[str]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT detail FROM events WHERE kind = ? ORDER BY id", (kind,))
        result = [str(r[0]) for r in rows]
    db.close()
    return result


def _count(journal: Path, table: str) -> int:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        value = int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    db.close()
    return value


@dataclass
class _Halter:
    """Halts the daemon (as `hedgebot halt` would) at one turn; resumes at another."""

    runtime: Runtime | None = None
    halt_at: int | None = None
    resume_at: int | None = None
    states: list[TradingState] = field(default_factory=list)

    def on_turn(self, view: TurnView) -> None:
        assert self.runtime is not None
        self.states.append(view.trading_state)
        if len(self.states) == self.halt_at:
            self.runtime.halt("margin call")
        if len(self.states) == self.resume_at:
            self.runtime.resume()


async def _run(settings_dir: Path, observer: _Halter, seconds: float) -> Runtime:
    settings = settings_for(settings_dir, LOOP_INTERVAL_S="1.0")
    runtime = Runtime(settings, live=False, observers=[observer])
    observer.runtime = runtime
    stop_at = runtime.clock.now_ms() + int(seconds * 1000)
    await runtime.run(asyncio.Event(), stop_at_ms=stop_at)
    return runtime


def test_an_operator_halt_survives_a_restart_until_an_operator_resumes(tmp_path: Path) -> None:
    first = _Halter(halt_at=3)
    runtime = asyncio.run(_run(tmp_path, first, 120))
    journal = runtime.journal.path
    orders_before = _count(journal, "orders")
    assert first.states[-1] is TradingState.HALTED

    second = _Halter(resume_at=400)
    asyncio.run(_run(tmp_path, second, 900))
    restored = _events(journal, "trading.restored")
    assert len(restored) == 1
    assert "margin call" in restored[0]
    assert "by operator" in restored[0]
    assert set(second.states[:399]) == {TradingState.HALTED}, "the restart forgot the halt"
    assert second.states[-1] is not TradingState.HALTED
    assert _count(journal, "orders") > orders_before, "trading never resumed"

    # After the resume, a third start is not halted any more.
    third = _Halter()
    asyncio.run(_run(tmp_path, third, 30))
    assert len(_events(journal, "trading.restored")) == 1
    assert third.states[0] is not TradingState.HALTED


def test_kill_switch_and_underlying_halts_are_restored(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    runtime = Runtime(settings, live=False, observers=[])
    runtime.notify(KillSwitchEngaged(reason="net delta $2.1M beyond $1M"))
    runtime.notify(GuardHalted(underlying="ETH", reason="3 consecutive rejects"))
    runtime.journal.close()

    again = Runtime(settings, live=False, observers=[])
    state = again.gatekeeper.guard_state
    assert state.kill_switch_reason == "net delta $2.1M beyond $1M"
    assert state.halted == {"ETH": "3 consecutive rejects"}
    again.journal.close()


def test_a_full_disk_stops_trading_and_keeps_what_was_journaled(tmp_path: Path) -> None:
    """SQLite's page limit plays the full disk: every write after it fails as ENOSPC would."""
    settings = settings_for(tmp_path)
    filled: dict[str, int] = {}

    @dataclass
    class _Filler:
        runtime: Runtime | None = None
        turns: int = 0

        def on_turn(self, view: TurnView) -> None:
            self.turns += 1
            assert self.runtime is not None
            db = self.runtime.journal._db
            if self.turns == 600:
                filled["fills"] = int(db.execute("SELECT COUNT(*) FROM fills").fetchone()[0])
                filled["orders"] = int(db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
                pages = int(db.execute("PRAGMA page_count").fetchone()[0])
                db.execute(f"PRAGMA max_page_count = {pages}")

    filler = _Filler()
    runtime = Runtime(settings, live=False, observers=[filler])
    filler.runtime = runtime

    async def scenario() -> None:
        stop_at = runtime.clock.now_ms() + 6 * 3600 * 1000
        await runtime.run(asyncio.Event(), stop_at_ms=stop_at)

    with pytest.raises(StateUnusable, match="full"):
        asyncio.run(scenario())
    journal = runtime.journal.path
    assert filled["orders"] > 0
    assert _count(journal, "fills") >= filled["fills"]
    assert _count(journal, "orders") >= filled["orders"]
    with sqlite3.connect(journal) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    Journal(journal).close()  # the lock was released by the clean shutdown


def test_a_stream_task_that_dies_stops_the_daemon_with_its_name(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, LOOP_INTERVAL_S="1.0")
    runtime = Runtime(settings, live=False, observers=[])

    async def broken_stream() -> None:
        await runtime.clock.sleep(30)
        raise ConnectionResetError("socket closed by peer")

    async def scenario() -> None:
        await runtime.start()
        runtime.supervisor.spawn("stream.market.extra", broken_stream())
        await runtime.run(asyncio.Event(), stop_at_ms=runtime.clock.now_ms() + 3600_000)

    with pytest.raises(TaskDied, match=r"stream\.market\.extra died: ConnectionResetError"):
        asyncio.run(scenario())
    journal = runtime.journal.path
    assert len(_events(journal, "daemon.task_died")) == 1
    assert len(_events(journal, "daemon.stopped")) == 1
    assert runtime.clock.now_ms() - runtime.engine._started_ms < 600_000  # type: ignore[union-attr]


def test_run_for_still_works_twice_in_one_state_directory(tmp_path: Path) -> None:
    """The instance lock is released by every clean shutdown."""
    settings = settings_for(tmp_path)
    asyncio.run(run_for(settings, seconds=60))
    asyncio.run(run_for(settings, seconds=60))


@dataclass
class _Recorder:
    """Every turn view (what /status serves, `TurnView.to_dict`); at one turn, the executor's
    own unresolved-order halt of BTC's hedge instrument, as `Executor` raises it."""

    runtime: Runtime | None = None
    unresolved_at: int | None = None
    views: list[TurnView] = field(default_factory=list)

    def on_turn(self, view: TurnView) -> None:
        assert self.runtime is not None
        self.views.append(view)
        if len(self.views) == self.unresolved_at:
            key = self.runtime.engine.legs["BTC"].instrument.key  # type: ignore[union-attr]
            reason = "order hb0n7 unresolved after 60 s of lookups"
            self.runtime.executor.halted[key] = reason
            self.runtime.notify(
                events.OrderUnresolved(underlying="BTC", client_id="hb0n7", reason=reason)
            )


def _restart(settings_dir: Path, recorder: _Recorder, **overrides: str) -> Runtime:
    settings = settings_for(settings_dir, LOOP_INTERVAL_S="1.0", **overrides)
    runtime = Runtime(settings, live=False, observers=[recorder])
    recorder.runtime = runtime
    asyncio.run(runtime.run(asyncio.Event(), stop_at_ms=runtime.clock.now_ms() + 20_000))
    return runtime


def _flags(journal: Path) -> list[str]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as db:
        names = [str(r[0]) for r in db.execute("SELECT name FROM flags ORDER BY name")]
    db.close()
    return names


def test_reducing_and_an_unresolved_order_halt_survive_restarts_into_status(
    tmp_path: Path,
) -> None:
    """A run on thin margin goes REDUCING and has an order it cannot resolve (its instrument
    halted). The next start, margin still thin, serves in /status the REDUCING it restored (its
    reason and time, not a new one) and the instrument halt; a start on healthy margin begins
    REDUCING, leaves it on fresh figures, and keeps the instrument halted."""
    thin = {"MARGIN__REDUCING_RATIO": "0.000001"}
    first = _Recorder(unresolved_at=5)
    journal = _restart(tmp_path, first, **thin).journal.path
    entered = first.views[-1]
    assert entered.trading_state == "reducing"
    assert entered.underlyings["BTC"].trading.startswith("halted: order hb0n7 unresolved")
    assert _flags(journal) == ["instrument:sim:BTC-PERPETUAL", "reducing"]

    second = _Recorder()
    _restart(tmp_path, second, **thin)
    assert "reducing by margin" in _events(journal, "trading.restored")[0]
    status = second.views[0].to_dict()
    assert status["trading_state"] == "reducing"
    assert status["trading_reason"] == f"restored from the journal: {entered.trading_reason}"
    assert status["trading_since_ms"] == entered.trading_since_ms
    btc = status["underlyings"]["BTC"]  # type: ignore[index]
    assert btc["trading"].startswith("halted: order hb0n7 unresolved")

    third = _Recorder()
    _restart(tmp_path, third)
    changes = _events(journal, "trading.state_changed")
    assert '"from": "reducing"' in changes[-1]
    assert '"to": "active"' in changes[-1]
    assert third.views[-1].trading_state == "active"
    assert third.views[-1].underlyings["BTC"].trading.startswith("halted: order hb0n7")
    assert _flags(journal) == ["instrument:sim:BTC-PERPETUAL"]
