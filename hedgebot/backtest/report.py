"""The backtest's outputs: a frontier table for the terminal, CSV and JSON files, a PNG plot.

Owns the presentation of `PolicyResult`s only. The plot has two panels: hedging cost against
hedged P&L standard deviation for every policy (the cost/risk frontier, the configured band
marked, standard deviation on a log scale), and histograms of the hedged P&L of hourly clock
hedging, the configured band and the cheapest policy within the configured band's risk.
matplotlib runs headless (Agg).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from hedgebot.backtest.book import BookPaths
from hedgebot.backtest.runner import PolicyResult

_COLUMNS = (
    ("policy", "policy", "{:<22}"),
    ("cost", "cost $", "{:>9.0f}"),
    ("fees", "fees $", "{:>8.0f}"),
    ("spread_slippage", "spread $", "{:>8.0f}"),
    ("funding", "funding $", "{:>9.0f}"),
    ("mean", "mean $", "{:>9.0f}"),
    ("std", "std $", "{:>8.0f}"),
    ("var95", "VaR95 $", "{:>8.0f}"),
    ("var99", "VaR99 $", "{:>8.0f}"),
    ("es95", "ES95 $", "{:>8.0f}"),
    ("max_drawdown", "maxDD $", "{:>8.0f}"),
    ("effectiveness", "effect.", "{:>7.3f}"),
    ("trades", "trades", "{:>7.1f}"),
    ("outside_band", "outside", "{:>7.1%}"),
    ("trades_per_day", "trades/d", "{:>8.1f}"),
    ("band_share", "band/Δopt", "{:>9.1%}"),
)


def table(results: Sequence[PolicyResult]) -> str:
    """The frontier table: one line per policy, means per path."""
    header = "  ".join(
        f"{title:<22}" if key == "policy" else f"{title:>{len(fmt.format(0))}}"
        for key, title, fmt in _COLUMNS
    )
    lines = [header]
    for result in results:
        row = result.row()
        cells = []
        for key, _, fmt in _COLUMNS:
            value = row[key]
            if isinstance(value, float) and math.isnan(value):
                cells.append(f"{'-':>{len(fmt.format(0))}}")
            else:
                cells.append(fmt.format(value))
        lines.append("  ".join(cells))
    return "\n".join(lines)


def write_csv(path: Path, results: Sequence[PolicyResult]) -> None:
    """One row per policy with every figure of the table (full precision)."""
    rows = [r.row() for r in results]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_json(
    path: Path, results: Sequence[PolicyResult], book: BookPaths, meta: Mapping[str, object]
) -> None:
    """The run's settings, the unhedged book's attribution and every policy's figures."""
    terms = book.option_terms.mean(axis=1)
    document = {
        **meta,
        "unhedged": {
            "option_delta": float(terms[0]),
            "option_gamma": float(terms[1]),
            "option_theta": float(terms[2]),
            "option_vega": float(terms[3]),
            "option_residual": float(terms[4]),
            "static": float(book.static_pnl.mean()),
            "financing": float(book.financing.mean()),
            "total": float(book.unhedged.mean()),
        },
        "policies": [
            {
                **{
                    k: (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in r.row().items()
                },
                "config": r.policy.config_band,
            }
            for r in results
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def plot(path: Path, results: Sequence[PolicyResult], book: BookPaths, title: str) -> None:
    """The cost/risk frontier and the P&L distributions, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, (frontier, hist) = plt.subplots(1, 2, figsize=(13, 5.5))
    for result in results:
        row = result.row()
        cost, std = float(row["cost"]), float(row["std"])
        marked = result.policy.name == "configured"
        frontier.scatter(
            [cost],
            [std],
            marker="*" if marked else "o",
            s=160 if marked else 36,
            color="crimson" if marked else "steelblue",
            zorder=3,
        )
        frontier.annotate(
            result.policy.name, (cost, std), fontsize=6, xytext=(4, 3), textcoords="offset points"
        )
    frontier.set_xlabel("hedging cost per path (USD: fees + spread + funding)")
    frontier.set_ylabel("std of hedged P&L (USD, log scale)")
    frontier.set_yscale("log")
    frontier.set_title("cost / risk frontier")
    frontier.grid(alpha=0.3)
    shown = [r for r in results if r.policy.name in ("clock 60m", "configured")]
    configured = next((r for r in results if r.policy.name == "configured"), None)
    if configured is not None:
        cheaper = [
            r
            for r in results
            if r.policy.name not in ("none", "configured") and r.stats.std <= configured.stats.std
        ]
        if cheaper:
            shown.append(min(cheaper, key=lambda r: float(r.outcome.cost.mean())))
    for result in shown:
        hist.hist(result.outcome.hedged(book), bins=60, alpha=0.5, label=result.policy.name)
    hist.set_xlabel("final hedged P&L per path (USD)")
    hist.set_ylabel("paths")
    unhedged = float(book.unhedged.std())
    hist.set_title(f"hedged P&L distribution (unhedged std {unhedged:,.0f} USD)")
    hist.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
