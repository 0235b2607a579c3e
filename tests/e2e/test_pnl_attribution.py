"""Live P&L attribution in the daemon (hedgebot.core.pnl.LiveAttribution): an hour of the default
book on the simulated exchange; the run summary and /status show, per underlying, book delta and
gamma P&L, hedge P&L, fees and slippage, with fees equal to what the journal's fills paid and
one journaled decision price, fill price and slippage per fill."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from hedgebot.operator.alerts import AlertDispatcher
from hedgebot.operator.metrics import Metrics
from hedgebot.operator.surface import OperatorSurface
from tests.support.daemon_harness import TurnRecorder, run_for, settings_for

COMPONENTS = {
    "option_delta_usd",
    "option_gamma_usd",
    "option_theta_usd",
    "option_vega_usd",
    "option_residual_usd",
    "option_usd",
    "other_usd",
    "hedge_usd",
    "fees_usd",
    "rebates_usd",
    "slippage_usd",
    "mean_slippage_bps",
    "total_usd",
}


@pytest.fixture(scope="module")
def one_hour(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, TurnRecorder, object]:
    state = tmp_path_factory.mktemp("state")
    recorder = TurnRecorder()
    summary, runtime = asyncio.run(run_for(settings_for(state), seconds=3600, recorder=recorder))
    return summary, recorder, runtime


def test_summary_fees_match_the_journal_and_every_fill_records_its_slippage(
    one_hour: tuple[object, TurnRecorder, object],
) -> None:
    summary, _, _ = one_hour
    data = summary.to_dict()  # type: ignore[attr-defined]
    db = sqlite3.connect(Path(summary.journal))  # type: ignore[attr-defined]
    fills = db.execute("SELECT client_id, trade_id, symbol, price, fee, fee_currency FROM fills")
    paid: dict[str, float] = {}
    prices: dict[str, float] = {}
    for _client, trade, symbol, price, fee, currency in fills.fetchall():
        underlying = symbol.split("-")[0]
        paid[underlying] = paid.get(underlying, 0.0) + fee * (
            price if currency == underlying else 1
        )
        prices[trade] = price
    costs = [
        json.loads(detail)
        for (detail,) in db.execute("SELECT detail FROM events WHERE kind = 'hedge.fill_cost'")
    ]
    db.close()
    assert set(paid) == {"BTC", "ETH"}
    for underlying, row in data["underlyings"].items():
        pnl = row["pnl"]
        assert set(pnl) == COMPONENTS
        assert pnl["fees_usd"] - pnl["rebates_usd"] == pytest.approx(paid[underlying], rel=1e-6)
        assert pnl["fees_usd"] > 0
        # hedging offsets the book: the hedge earned the opposite of the book's delta P&L
        book = pnl["option_delta_usd"] + pnl["other_usd"]
        assert pnl["hedge_usd"] * book < 0
        assert abs(book + pnl["hedge_usd"]) < 0.2 * abs(book)
        # the greeks explain the options' revaluation: the residual is a small part of it
        terms = ("delta", "gamma", "theta", "vega")
        explained = sum(abs(pnl[f"option_{t}_usd"]) for t in terms)
        assert abs(pnl["option_residual_usd"]) < 0.1 * explained
        assert pnl["option_usd"] == pytest.approx(
            sum(pnl[f"option_{t}_usd"] for t in (*terms, "residual")), abs=1e-5
        )
    assert len(costs) == len(prices)
    for cost in costs:
        assert cost["fill_price"] == prices[cost["trade_id"]]
        assert cost["slippage_usd"] * cost["slippage_bps"] >= 0  # USD and bps agree in sign
        moved = abs(cost["fill_price"] / cost["decision_price"] - 1) * 10_000
        assert abs(cost["slippage_bps"]) == pytest.approx(moved, abs=1e-3)
    assert data["totals"]["pnl_usd"] == pytest.approx(
        sum(r["pnl"]["total_usd"] for r in data["underlyings"].values())
    )


def test_status_and_metrics_show_the_attribution(
    one_hour: tuple[object, TurnRecorder, object], tmp_path: Path
) -> None:
    """The operator surface fed the run's turns: /status carries the attribution, the metrics
    carry it as gauges, and the fees counter (once always 0) adds up to the fees shown."""
    summary, recorder, runtime = one_hour
    metrics = Metrics()
    surface = OperatorSurface(
        settings=settings_for(tmp_path),
        state=runtime.state,  # type: ignore[attr-defined]
        metrics=metrics,
        alerts=AlertDispatcher([]),
        halt=lambda _reason: None,
        resume=lambda: None,
        flatten=lambda: "",
    )
    for view in recorder.views:
        surface.on_turn(view)
    status = surface.status()["underlyings"]["BTC"]["pnl"]  # type: ignore[index]
    assert set(status) == COMPONENTS
    final = summary.to_dict()["underlyings"]["BTC"]["pnl"]  # type: ignore[attr-defined]
    assert 0 < status["fees_usd"] <= final["fees_usd"]
    lines = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.render().decode().splitlines()
        if line.startswith(("hedgebot_pnl_usd{", "hedgebot_fees_usd_total{"))
    }
    for component in COMPONENTS:
        key = f'hedgebot_pnl_usd{{component="{component}",underlying="BTC"}}'
        assert lines[key] == pytest.approx(status[component])
    assert lines['hedgebot_fees_usd_total{underlying="BTC"}'] == pytest.approx(status["fees_usd"])
