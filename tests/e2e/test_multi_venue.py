"""Several accounts on several venues in one daemon, netted per underlying: coin-settled BTC
options on one venue hedged with a linear (USDC) perpetual on another."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from hedgebot.config import Settings
from tests.support.daemon_harness import TurnRecorder, run_for


def _settings(state_dir: Path) -> Settings:
    return Settings(
        mode="paper",
        state_dir=state_dir,
        simulator={"speed": 0, "seed": 3},
        venues={"options-venue": {"driver": "simulated"}, "perp-venue": {"driver": "simulated"}},
        accounts={
            "options": {
                "venue": "options-venue",
                "count_collateral": False,
                "positions": [{"symbol": "BTC-27MAR26-60000-C", "amount": 20.0}],
            },
            "hedging": {
                "venue": "perp-venue",
                "collateral": {"USDC": 2_000_000.0},
            },
        },
        hedges={
            "BTC": {
                "account": "hedging",
                "instrument": "BTC_USDC-PERPETUAL",
                "band": {"kind": "fixed", "half_width": 0.2},
                "min_order": 0.001,
                "max_order": 20.0,
                "max_position": 50.0,
                "cooldown_s": 1.0,
            }
        },
    )


def test_options_on_one_venue_are_hedged_with_a_perp_on_another(tmp_path: Path) -> None:
    """The book's delta sums both accounts; the hedge goes to the other venue's linear perp
    and brings the combined delta inside the band; the options venue sees no order."""
    recorder = TurnRecorder()
    summary, runtime = asyncio.run(run_for(_settings(tmp_path), seconds=1800, recorder=recorder))
    first, last = recorder.views[0].underlyings["BTC"], recorder.views[-1].underlyings["BTC"]
    assert first.net_delta > 5, "20 calls around the money carry ~10 BTC of delta"
    assert abs(last.net_delta) <= 0.2 + 1e-9
    assert summary.underlyings["BTC"].time_outside_band < 0.05
    with sqlite3.connect(tmp_path / "journal-paper.sqlite") as db:
        venues = {v for (v,) in db.execute("SELECT DISTINCT venue FROM orders")}
    assert venues == {"perp-venue"}
    hedge = runtime.state.position(
        "hedging", next(k for k in runtime.state.quotes if k.symbol == "BTC_USDC-PERPETUAL")
    )
    assert hedge < -5, "the hedge is a short linear perp of several BTC"
    assert abs(first.net_delta + hedge - last.net_delta) < 1.0, "the hedge offsets the options"
