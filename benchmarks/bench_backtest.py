"""Backtest speed: Monte Carlo policies on the vectorised engine, and a month of one-minute real
bars through the event engine (the daemon's `decide` at every step).

(a) 6 policies (none, clock 60 min, the default config's fixed band, a percent band and two
Whalley–Wilmott bands) × `--paths` paths × 30 days at 15-minute steps, from drawing the paths to
the last statistic; (b) the FTX BTC-PERP month (tests/data/price_history/) at one-minute steps,
44,640 decisions per policy, the same 6 policies on the event engine. The book is a short
60-day at-the-money BTC straddle (5 calls, 5 puts) hedged with the inverse perpetual under the
default config's BTC rule. One core (the engines are single-threaded numpy).

Run: ``python benchmarks/bench_backtest.py [--paths N] [--repeat R]``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hedgebot.app import backtest_book, hedge_rule
from hedgebot.backtest.book import BacktestBook, OptionLeg, revalue
from hedgebot.backtest.market import MonteCarloSettings, simulate
from hedgebot.backtest.outcome import CostModel
from hedgebot.backtest.policies import Policy, clock_policy, no_hedge, policy_grid, whalley_wilmott
from hedgebot.backtest.recorded import candle_paths, read_candles
from hedgebot.backtest.runner import EngineChoice, run_policies
from hedgebot.config import load_settings
from hedgebot.core.policy import PercentBand, RebalanceTo

ROOT = Path(__file__).resolve().parents[1]
FTX = ROOT / "tests" / "data" / "price_history" / "ftx_btc-perp_1m_2021-12-31_2022-02-01.csv.gz"
START_MS = 1_772_409_600_000  # 2026-03-02 00:00 UTC, the default config's simulator start
DAY_MS = 86_400_000


def book_and_policies() -> tuple[BacktestBook, list[Policy]]:
    """The 60-day straddle and the 6 policies under the default config's BTC rule."""
    settings = load_settings(ROOT / "config" / "hedgebot.toml")
    default = backtest_book(settings, "BTC")
    rule = hedge_rule(settings.hedges["BTC"])
    legs = tuple(
        OptionLeg(
            symbol=f"S-{kind}",
            strike=60_000.0,
            expiry_ms=START_MS + 60 * DAY_MS,
            is_call=kind == "C",
            amount=-5.0,
        )
        for kind in ("C", "P")
    )
    book = BacktestBook(underlying="BTC", options=legs, hedge=default.hedge, smile=default.smile)
    grid = {p.name: p for p in policy_grid(rule, cost_bps=6.0, reference_width=0.25)}
    policies = [
        no_hedge(rule),
        clock_policy(rule, 60),
        grid["configured"],
        Policy(
            name="percent 2%",
            rule=rule.__class__(
                target=0.0,
                band=PercentBand(percent=2.0, minimum=0.05, maximum=5.0),
                rebalance_to=RebalanceTo.EDGE,
                min_order=rule.min_order,
                max_order=rule.max_order,
                max_position=rule.max_position,
                cooldown_ms=rule.cooldown_ms,
            ),
        ),
        *whalley_wilmott(rule, [10.0, 100.0], cost_bps=6.0, to=RebalanceTo.EDGE),
    ]
    return book, policies


def monte_carlo(paths: int) -> Callable[[], int]:
    book, policies = book_and_policies()

    def run() -> int:
        market = simulate(
            MonteCarloSettings(paths=paths, days=30.0, step_minutes=15.0), start_ms=START_MS
        )
        revalued = revalue(book, market)
        run_policies(
            book=book,
            paths=revalued,
            policies=policies,
            costs=CostModel(),
            engine=EngineChoice.VECTORISED,
        )
        return market.paths * market.steps * len(policies)

    return run


def recorded_month() -> Callable[[], int]:
    book, policies = book_and_policies()
    times, closes = read_candles(FTX)
    placed = book.shifted(by_ms=times[0] - START_MS)

    def run() -> int:
        market = candle_paths(
            times,
            closes,
            step_minutes=1,
            window_days=31.0,
            implied_vol=0.7,
            spot=60_000.0,
            source="ftx",
        )
        revalued = revalue(placed, market)
        run_policies(
            book=placed,
            paths=revalued,
            policies=policies,
            costs=CostModel(),
            engine=EngineChoice.EVENT,
        )
        return market.steps * len(policies)

    return run


def measure(job: Callable[[], int], repeat: int) -> tuple[float, float, int]:
    """(median, best) seconds over `repeat` runs, and the decisions per run."""
    times = []
    decisions = 0
    for _ in range(repeat):
        start = time.perf_counter()
        decisions = job()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), decisions


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print("| run | decisions | seconds (median) | best | µs per decision |")
    print("|---|---:|---:|---:|---:|")
    rows = (
        (
            f"6 policies × {args.paths:,} paths × 30 days, 15-min steps (vectorised)",
            monte_carlo(args.paths),
        ),
        ("6 policies × FTX month, 1-min bars (event engine, `decide` per step)", recorded_month()),
    )
    for name, job in rows:
        median, best, decisions = measure(job, args.repeat)
        print(
            f"| {name} | {decisions:,} | {median:.2f} | {best:.2f} | "
            f"{median / decisions * 1e6:.3f} |"
        )


if __name__ == "__main__":
    main()
