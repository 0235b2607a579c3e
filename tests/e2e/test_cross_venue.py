"""Options on one venue hedged on another, end to end: BTC calls on the local Deribit exchange,
the hedge a BTC linear perpetual (USDT swap) on the local Binance USDⓈ-M, Bybit or OKX exchange,
all through unmodified ccxt over HTTP and websockets."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from hedgebot.app import Runtime
from hedgebot.model.view import TurnView
from hedgebot_localvenues.common.faults import Fault
from tests.support.cross_venue import BASIS, CrossVenue, HedgeVenue, cross_settings, cross_venue
from tests.support.live_harness import Watcher, run_until


def _hedged(view: TurnView) -> bool:
    row = view.underlyings["BTC"]
    return row.fills >= 1 and row.price > 0 and not row.outside_band


@pytest.mark.parametrize("exchange", ["binanceusdm", "bybit", "okx"])
async def test_deribit_options_are_hedged_with_a_linear_perp_on_another_venue(
    tmp_path: Path, exchange: HedgeVenue
) -> None:
    """One net delta per underlying across both venues: the calls' delta (about +10 BTC, valued
    from Deribit's own quotes) is offset by a short BTC position on Binance USDⓈ-M, Bybit or OKX
    (in BTC; OKX's orders are in contracts of 0.01 BTC); Deribit sees no order; every client id
    reaches the hedge venue once."""
    async with cross_venue(exchange) as venues:
        runtime = Runtime(cross_settings(venues, tmp_path), live=True, observers=[])
        watcher = Watcher(_hedged)
        await run_until(runtime, watcher, timeout_s=60)
        binance_position = venues.hedge_position()
        client_ids = venues.hedge.requests.client_ids()
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
    assert len(client_ids) == len(set(client_ids)), "a client id was sent twice"
    with sqlite3.connect(tmp_path / "journal-live.sqlite") as db:
        journaled = {cid for (cid,) in db.execute("SELECT client_id FROM orders")}
        venues_used = {v for (v,) in db.execute("SELECT DISTINCT venue FROM orders")}
    assert set(client_ids) == journaled
    assert venues_used == {venues.venue}
    accounts = {a.account: a for a in watcher.views[-1].accounts}
    assert set(accounts) == {"options", "hedging"}, "both venues' margins are watched"
    assert accounts["hedging"].maintenance_margin > 0, "the hedge's margin comes from its venue"
    options = accounts["options"]
    assert options.currency == "BTC"
    assert options.equity > 10, "Deribit's coin equity: 10 BTC collateral plus the long calls"


class _DropWebsocketsOnceHedging:
    """Turn observer: once the first hedge order reached Binance, drop every websocket of both
    venues (Binance's market and user-data streams, Deribit's JSON-RPC socket)."""

    def __init__(self, venues: CrossVenue) -> None:
        self._venues = venues
        self.dropped_at_ms: int | None = None
        self.tasks: list[asyncio.Task[object]] = []

    def on_turn(self, view: TurnView) -> None:
        if self.dropped_at_ms is None and self._venues.hedge.requests.order_creates():
            self.dropped_at_ms = view.now_ms
            self._venues.hedge.faults.drop_websockets = True
            self.tasks.append(asyncio.create_task(self._venues.deribit.faults.drop_websockets()))


CREATE_PATHS = {
    "binanceusdm": "/fapi/v1/order",
    "bybit": "/v5/order/create",
    "okx": "/api/v5/trade/batch-orders",
}
"""Where ccxt 4.5.90 places an order on each hedge venue (OKX: one order in a batch)."""


@pytest.mark.parametrize("exchange", ["binanceusdm", "bybit", "okx"])
async def test_faults_on_either_venue_are_survived_without_a_duplicate_hedge(
    tmp_path: Path, exchange: HedgeVenue
) -> None:
    """The hedge venue loses the answer to the first create and rate-limits the next one; both
    venues drop their websockets once hedging has begun. The daemon finds the lost order by
    client id, reconnects both feeds, reaches the band, and the hedge venue's position is
    exactly the sum of the journaled fills: nothing was placed twice."""
    async with cross_venue(exchange) as venues:
        create = CREATE_PATHS[exchange]
        venues.hedge.faults.arm(Fault(kind="lose_answer", path=create, method="POST"))
        venues.hedge.faults.arm(Fault(kind="rate_limit", path=create, method="POST"))
        runtime = Runtime(cross_settings(venues, tmp_path), live=True, observers=[])
        dropper = _DropWebsocketsOnceHedging(venues)
        runtime.observers.append(dropper)
        state = runtime.state

        def recovered(view: TurnView) -> bool:
            dropped = dropper.dropped_at_ms
            return (
                dropped is not None
                and _hedged(view)
                and state.feeds[venues.venue].reconnects >= 1
                and state.feeds["deribit"].reconnects >= 1
                and state.account_received_ms.get("hedging", 0) > dropped + 500
            )

        watcher = Watcher(recovered)
        await run_until(runtime, watcher, timeout_s=90)
        for task in dropper.tasks:
            await task
        leg = venues.hedge_position()
        creates = venues.hedge.requests.order_creates()
        client_ids = venues.hedge.requests.client_ids()
    assert venues.hedge.faults.pending == 0, "both armed faults fired"
    outcomes = [r.outcome for r in creates]
    assert outcomes[:2] == ["lost", "429"]
    assert len(client_ids) == len(set(client_ids)), "a client id was sent twice"
    with sqlite3.connect(tmp_path / "journal-live.sqlite") as db:
        fills = db.execute("SELECT client_id, side, amount FROM fills").fetchall()
    journaled = sum(amount if side == "buy" else -amount for _, side, amount in fills)
    assert client_ids[0] in {cid for cid, _, _ in fills}, "the lost order's fill was journaled"
    assert leg.amount == pytest.approx(journaled, abs=1e-9), "venue position == journaled fills"
    assert abs(watcher.views[-1].underlyings["BTC"].net_delta) <= 0.25 + 1e-9


@pytest.mark.parametrize("exchange", ["binanceusdm", "okx"])
async def test_paper_mode_uses_both_venues_quotes_and_no_private_endpoint(
    tmp_path: Path, exchange: HedgeVenue
) -> None:
    """Paper: real quotes from both local exchanges, fills simulated locally; neither exchange
    sees a private call and no key (nor OKX passphrase) is loaded."""
    async with cross_venue(exchange) as venues:
        settings = cross_settings(venues, tmp_path, mode="paper")
        assert settings.venues[venues.venue].api_key is None
        assert settings.venues[venues.venue].api_password is None
        runtime = Runtime(settings, live=False, observers=[])
        watcher = Watcher(_hedged)
        await run_until(runtime, watcher, timeout_s=60)
        binance = venues.hedge.requests.all()
        deribit_methods = venues.deribit.requests.methods()
    assert [r.path for r in binance if r.private] == []
    assert [m for m in deribit_methods if m.startswith("private/")] == []
    assert venues.hedge.ledger.accounts["main"].orders == {}
    first, last = watcher.views[0].underlyings["BTC"], watcher.views[-1].underlyings["BTC"]
    assert first.net_delta > 5
    assert abs(last.net_delta) <= 0.25 + 1e-9
    assert last.basis_bps is not None


@pytest.mark.parametrize("exchange", ["binanceusdm", "okx"])
async def test_a_restart_reconciles_from_both_venues_and_sends_nothing_new(
    tmp_path: Path, exchange: HedgeVenue
) -> None:
    """After a hedged run stops, a second run reads both accounts back from the venues, finds
    the book inside its band and places no order; its journal continues with no duplicate."""
    async with cross_venue(exchange) as venues:
        first_run = Runtime(cross_settings(venues, tmp_path), live=True, observers=[])
        await run_until(first_run, Watcher(_hedged), timeout_s=60)
        creates_before = len(venues.hedge.requests.order_creates())
        amount_before = venues.hedge_position().amount
        second_run = Runtime(cross_settings(venues, tmp_path), live=True, observers=[])
        settled = Watcher(lambda v: v.underlyings["BTC"].price > 0)
        await run_until(second_run, settled, timeout_s=60)
        creates_after = len(venues.hedge.requests.order_creates())
        amount_after = venues.hedge_position().amount
    row = settled.views[-1].underlyings["BTC"]
    assert not row.outside_band, "the second run saw the hedge it had placed before"
    assert abs(row.net_delta) <= 0.25 + 1e-9
    assert creates_after == creates_before, "the restart placed an order"
    assert amount_after == amount_before
    with sqlite3.connect(tmp_path / "journal-live.sqlite") as db:
        ids = [cid for (cid,) in db.execute("SELECT client_id FROM orders")]
    assert len(ids) == len(set(ids)) == creates_before


async def test_rejected_creates_do_not_use_up_the_notional_budget(tmp_path: Path) -> None:
    """Binance refuses the first two creates for want of margin (below the three-reject halt);
    with a notional budget of 700,000 USD a minute, room for the whole hedge (about 10 BTC) but
    not for that and the two refused 5 BTC orders, the daemon still hedges into its band within
    the minute: a refused create never exposed anything, so it gives its notional back (the
    per-venue fault campaign found rejected notional holding an OKX book out of its band)."""
    async with cross_venue("binanceusdm") as venues:
        create = CREATE_PATHS["binanceusdm"]
        for _ in range(2):
            venues.hedge.faults.arm(
                Fault(
                    kind="error",
                    path=create,
                    method="POST",
                    code=-2019,
                    message="Margin is insufficient.",
                )
            )
        settings = cross_settings(venues, tmp_path)
        guards = settings.guards.model_copy(update={"max_notional_per_minute_usd": 700_000.0})
        runtime = Runtime(settings.model_copy(update={"guards": guards}), live=True, observers=[])
        watcher = Watcher(_hedged)
        await run_until(runtime, watcher, timeout_s=50)
        outcomes = [r.outcome for r in venues.hedge.requests.order_creates()]
    assert outcomes[:2] == ["error", "error"], "both refusals reached the daemon"
    assert abs(watcher.views[-1].underlyings["BTC"].net_delta) <= 0.25 + 1e-9
