"""Basis risk of cross-hedges from recorded prices: an underlying hedged with another's perpetual.

Owns `read_snapshot_prices` (a CSV of perpetual prices per coin at snapshot times, columns
``snapshot_timestamp_ms``, ``coin`` and ``candle_price_used``, as in
tests/data/deribit/perpetual_prices_2025-12-30_2026-04-15.csv) and `basis_table`, which reports
for every ordered pair of coins the beta, correlation, residual volatility and hedge
effectiveness of hedging the first with the second (`hedgebot.core.pnl_stats.basis_risk`).
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np

from hedgebot.core.pnl_stats import basis_risk

MS_PER_YEAR = 365.0 * 24 * 3600 * 1000


def read_snapshot_prices(path: Path) -> tuple[list[int], dict[str, list[float]]]:
    """(snapshot times in ms, prices per coin) at the times every coin has a price."""
    by_time: dict[int, dict[str, float]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            price = row.get("candle_price_used") or ""
            if not price:
                continue
            by_time.setdefault(int(row["snapshot_timestamp_ms"]), {})[row["coin"]] = float(price)
    coins = sorted({c for prices in by_time.values() for c in prices})
    times = sorted(t for t, prices in by_time.items() if len(prices) == len(coins))
    if len(coins) < 2 or len(times) < 4:
        raise ValueError(f"{path}: need prices of at least two coins at four common times")
    return times, {c: [by_time[t][c] for t in times] for c in coins}


def basis_table(path: Path) -> str:
    """One line per (target, hedge) pair of coins in the file."""
    times, prices = read_snapshot_prices(path)
    years = np.diff(np.asarray(times, dtype=np.float64)) / MS_PER_YEAR
    returns = {c: np.diff(np.log(np.asarray(p))) for c, p in prices.items()}
    lines = [
        f"basis risk from {path.name}: {len(times)} common snapshots, "
        f"{(times[-1] - times[0]) / 86_400_000:.0f} days, returns between snapshots",
        f"{'target':<8}{'hedge':<8}{'beta':>7}{'corr':>7}{'target vol':>12}"
        f"{'residual vol':>14}{'effectiveness':>15}",
    ]
    for target, hedge in itertools.permutations(sorted(prices), 2):
        risk = basis_risk(returns[target], returns[hedge], years=years)
        lines.append(
            f"{target:<8}{hedge:<8}{risk.beta:>7.3f}{risk.correlation:>7.3f}"
            f"{risk.target_vol:>12.1%}{risk.residual_vol:>14.1%}{risk.effectiveness:>15.3f}"
        )
    return "\n".join(lines)
