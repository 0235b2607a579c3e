"""Options on one venue hedged on another, end to end: BTC calls on the local Deribit exchange,
the hedge a BTCUSDT linear perpetual on the local Binance USDⓈ-M exchange, both through
unmodified ccxt over HTTP and websockets."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hedgebot.app import Runtime
from hedgebot.model.view import TurnView
from tests.support.cross_venue import BASIS, cross_settings, cross_venue
from tests.support.live_harness import Watcher, run_until


def _hedged(view: TurnView) -> bool:
    row = view.underlyings["BTC"]
    return row.fills >= 1 and row.price > 0 and not row.outside_band


async def test_deribit_options_are_hedged_with_a_binance_linear_perp(tmp_path: Path) -> None:
    """One net delta per underlying across both venues: the calls' delta (about +10 BTC, valued
    from Deribit's own quotes) is offset by a short BTCUSDT position on Binance, in BTC (one
    contract is one coin); Deribit sees no order; every client id reaches Binance once."""
    async with cross_venue() as venues:
        runtime = Runtime(cross_settings(venues, tmp_path), live=True, observers=[])
        watcher = Watcher(_hedged)
        await run_until(runtime, watcher, timeout_s=60)
        binance_position = venues.binance.ledger.accounts["main"].positions[("BTCUSDT", "BOTH")]
        creates = venues.binance.requests.order_creates()
        deribit_methods = venues.deribit.requests.methods()
    first, last = watcher.views[0].underlyings["BTC"], watcher.views[-1].underlyings["BTC"]
    assert first.net_delta > 5, "20 long calls carry several BTC of delta"
    assert abs(last.net_delta) <= 0.25 + 1e-9
    assert last.basis_bps is not None, "the basis between the venues is reported"
    assert abs(last.basis_bps - BASIS * 10_000) < 3, "Binance trades 8 bp over Deribit's index"
    status = watcher.views[-1].to_dict()["underlyings"]
    assert isinstance(status, dict)
    assert status["BTC"]["basis_bps"] == last.basis_bps, "/status shows it"
    assert binance_position.amount < -5, "the hedge is a short linear perp of several BTC"
    assert abs(first.net_delta + binance_position.amount - last.net_delta) < 0.5
    assert not [m for m in deribit_methods if m in ("private/buy", "private/sell")]
    client_ids = [r.params["newClientOrderId"] for r in creates]
    assert len(client_ids) == len(set(client_ids)), "a client id was sent twice"
    with sqlite3.connect(tmp_path / "journal-live.sqlite") as db:
        journaled = {cid for (cid,) in db.execute("SELECT client_id FROM orders")}
        venues_used = {v for (v,) in db.execute("SELECT DISTINCT venue FROM orders")}
    assert set(client_ids) == journaled
    assert venues_used == {"binance"}
    accounts = {a.account: a for a in watcher.views[-1].accounts}
    assert set(accounts) == {"options", "hedging"}, "both venues' margins are watched"
    assert accounts["hedging"].maintenance_margin > 0, "the hedge's margin comes from Binance"
    options = accounts["options"]
    assert options.currency == "BTC"
    assert options.equity > 10, "Deribit's coin equity: 10 BTC collateral plus the long calls"
