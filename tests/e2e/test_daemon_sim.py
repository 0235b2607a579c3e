"""The whole daemon on the built-in simulated exchange under a simulated clock: hours of
simulated trading in seconds, asserting what an operator relies on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.support.daemon_harness import (
    TurnRecorder,
    episodes_outside,
    run_for,
    settings_for,
    signed_fills,
)

HOURS = 2.0


@pytest.fixture(scope="module")
def two_hours(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, TurnRecorder]:
    """One two-hour simulated run shared by the tests of this module."""
    state = tmp_path_factory.mktemp("state")
    recorder = TurnRecorder()
    summary, runtime = asyncio.run(
        run_for(settings_for(state), seconds=HOURS * 3600, recorder=recorder)
    )
    return summary, runtime, recorder


def test_every_underlying_is_hedged_and_stays_mostly_in_band(
    two_hours: tuple[object, object, TurnRecorder],
) -> None:
    """Both underlyings get hedges and spend under 2% of two simulated hours outside the band."""
    summary, _, recorder = two_hours
    data = summary.to_dict()  # type: ignore[attr-defined]
    for name in ("BTC", "ETH"):
        row = data["underlyings"][name]
        assert row["hedge_orders"] >= 1, name
        assert row["fills"] >= 1, name
        assert row["time_outside_band"] < 0.02, (name, row["time_outside_band"])
    assert len(recorder.views) >= HOURS * 3600 * 0.99
    assert data["events"]["daemon.started"] == 1, "the summary counts the run's events"


def test_delta_comes_back_inside_the_band_after_each_hedge_settles(
    two_hours: tuple[object, object, TurnRecorder],
) -> None:
    """Every excursion outside the band ends within seconds: the first needs several capped
    orders, later ones one order (latency 150 ms, loop 1 s, cooldown 2 s)."""
    _, _, recorder = two_hours
    for name in ("BTC", "ETH"):
        spans = episodes_outside(recorder.views, name)
        assert spans, f"{name} never left its band: the test would prove nothing"
        first, *rest = spans
        assert first[1] - first[0] <= 15_000, (name, first)
        longest = max((end - start for start, end in rest), default=0)
        assert longest <= 4_000, (name, longest)
        assert recorder.views[-1].underlyings[name].outside_band is False or spans[-1][1] == (
            recorder.views[-1].now_ms
        )


def test_at_most_one_order_in_flight_per_instrument(
    two_hours: tuple[object, object, TurnRecorder],
) -> None:
    """No turn ever saw two live hedge orders on one instrument."""
    _, _, recorder = two_hours
    assert recorder.max_live_per_instrument, "no order was ever seen in flight"
    assert max(recorder.max_live_per_instrument.values()) == 1


def test_journal_holds_each_order_and_fill_once_and_matches_the_venue(
    two_hours: tuple[object, object, TurnRecorder],
) -> None:
    """Journaled fills add up to exactly the hedge position the venue reports, every order has
    a unique client id, and each hedge decision produced exactly one order."""
    summary, runtime, _ = two_hours
    path = Path(summary.journal)  # type: ignore[attr-defined]
    db = sqlite3.connect(path)
    orders = db.execute("SELECT client_id, state FROM orders").fetchall()
    assert len(orders) == len({o[0] for o in orders})
    hedges = db.execute("SELECT COUNT(*) FROM decisions WHERE action = 'hedge'").fetchone()[0]
    assert hedges == len(orders)
    assert {state for _, state in orders} <= {"filled", "cancelled", "partially_filled"}
    fills = db.execute("SELECT symbol, side, amount FROM fills").fetchall()
    trade_ids = db.execute("SELECT venue, trade_id FROM fills").fetchall()
    assert len(trade_ids) == len(set(trade_ids))
    totals = signed_fills(fills)
    state = runtime.state  # type: ignore[attr-defined]
    for symbol, amount in totals.items():
        venue_amount = state.position("main", next(k for k in state.quotes if k.symbol == symbol))
        assert venue_amount == pytest.approx(amount, abs=1e-6), symbol
    assert db.execute("SELECT COUNT(*) FROM risk").fetchone()[0] >= HOURS * 60 * 2 * 0.9
    db.close()
