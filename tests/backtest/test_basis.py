"""Basis risk of cross-hedges: ETH hedged with BTC-PERPETUAL (and back) on recorded Deribit
perpetual prices around the 2026-02-05 sell-off; and the estimator on a known relation."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from hedgebot.backtest.basis import basis_table, read_snapshot_prices
from hedgebot.core.pnl_stats import basis_risk

PRICES = (
    Path(__file__).parents[1] / "data" / "deribit" / "perpetual_prices_2025-12-30_2026-04-15.csv"
)


def test_the_estimator_recovers_a_known_beta_and_residual() -> None:
    rng = np.random.default_rng(5)
    hedge = rng.normal(0, 0.01, 20_000)
    noise = rng.normal(0, 0.004, 20_000)
    risk = basis_risk(1.5 * hedge + noise, hedge, years=np.full(20_000, 1 / 365))
    assert risk.beta == pytest.approx(1.5, abs=0.01)
    assert risk.residual_vol == pytest.approx(0.004 * math.sqrt(365), rel=0.02)
    assert risk.effectiveness == pytest.approx(risk.correlation**2, rel=1e-9)
    assert risk.effectiveness == pytest.approx(
        1 - 0.004**2 / (1.5**2 * 0.01**2 + 0.004**2), abs=0.01
    )
    with pytest.raises(ValueError, match="three aligned returns"):
        basis_risk([0.1, 0.2], [0.1, 0.2], years=[1.0, 1.0])


def test_eth_against_btc_from_the_recorded_file() -> None:
    """The file read by hand: BTC and ETH prices at each snapshot; the report's beta is the
    least-squares slope of ETH log returns on BTC's, and ETH hedged with BTC keeps its
    correlation² of the variance removed."""
    rows: dict[int, dict[str, float]] = {}
    with PRICES.open() as handle:
        for row in csv.DictReader(handle):
            rows.setdefault(int(row["snapshot_timestamp_ms"]), {})[row["coin"]] = float(
                row["candle_price_used"]
            )
    times = sorted(t for t, p in rows.items() if {"BTC", "ETH"} <= set(p))
    btc = np.diff(np.log([rows[t]["BTC"] for t in times]))
    eth = np.diff(np.log([rows[t]["ETH"] for t in times]))
    slope = np.polyfit(btc, eth, 1)[0]
    read_times, prices = read_snapshot_prices(PRICES)
    assert read_times == times
    assert prices["ETH"] == [rows[t]["ETH"] for t in times]
    assert len(times) == 419
    years = np.diff(np.asarray(times, dtype=np.float64)) / (365 * 86_400_000)
    risk = basis_risk(eth, btc, years=years)
    assert risk.beta == pytest.approx(slope, rel=1e-9)
    assert 0.8 < risk.correlation < 0.99
    assert risk.residual_vol < risk.target_vol
    table = basis_table(PRICES)
    eth_line = next(line for line in table.splitlines() if line.startswith("ETH     BTC"))
    assert f"{risk.beta:.3f}" in eth_line
    assert f"{risk.effectiveness:.3f}" in eth_line
