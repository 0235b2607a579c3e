"""What a user asked ``hedgebot backtest`` for, as one frozen value, and running it.

Owns `BacktestRequest` (paths or recorded data, costs, engine, outputs, calibration budget) and
`execute`, which revalues the book, runs the policies, prints the table (and the calibrated
config lines) and writes frontier.csv, frontier.json and frontier.png. The composition root
(`hedgebot.app.backtest`) builds the book and the configured rule from the daemon's config.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from hedgebot.backtest import report
from hedgebot.backtest.book import MS_PER_YEAR, BacktestBook, BookPaths, revalue
from hedgebot.backtest.market import MarketPaths, MonteCarloSettings, simulate
from hedgebot.backtest.outcome import CostModel
from hedgebot.backtest.policies import calibration_grid, policy_grid
from hedgebot.backtest.recorded import candle_paths, chain_atm_vol, read_candles
from hedgebot.backtest.runner import EngineChoice, PolicyResult, calibrate, run_policies
from hedgebot.core.guards import GuardLimits
from hedgebot.core.policy import FixedBand, HedgeRule
from hedgebot.model.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class BacktestRequest:
    """Everything ``hedgebot backtest`` was asked for."""

    monte_carlo: MonteCarloSettings = field(default_factory=MonteCarloSettings)
    dynamics: Mapping[str, float] = field(default_factory=dict)
    """Overrides of the underlying's simulated dynamics (spot, vol, vol_of_vol, jumps...)."""
    candles: Path | None = None
    """Replay this candle file instead of Monte Carlo paths."""
    chain: Path | None = None
    """Take the replay's implied vol from this option-chain snapshot."""
    implied_vol: float | None = None
    window_days: float | None = 1.0
    """Length of each replay window (one path each); None: one window as long as possible."""
    costs: CostModel = field(default_factory=CostModel)
    engine: EngineChoice = EngineChoice.AUTO
    out_dir: Path = Path("backtest-out")
    max_std: float | None = None
    max_var95: float | None = None
    calibrate: bool = False
    guards: bool = False
    """Run every hedge through the daemon's guards (event engine only)."""
    limits: GuardLimits | None = None
    """The guards' limits, filled in by the composition root from the config."""


def horizon_days(book: BacktestBook, start_ms: int, wanted: float) -> float:
    """`wanted` days, or fewer so the run ends an hour before the book's first expiry."""
    expiries = [leg.expiry_ms for leg in book.options if leg.expiry_ms > start_ms]
    if not expiries:
        return wanted
    return min(wanted, (min(expiries) - start_ms - 3_600_000) / 86_400_000)


def market_for(
    request: BacktestRequest, book: BacktestBook, *, start_ms: int
) -> tuple[MarketPaths, BacktestBook]:
    """The paths to run (Monte Carlo or recorded windows) and the book placed on them."""
    mc = request.monte_carlo
    if request.candles is None:
        days = horizon_days(book, start_ms, mc.days)
        return simulate(dataclasses.replace(mc, days=days), start_ms=start_ms), book
    try:
        times, closes = read_candles(request.candles)
        vol = request.implied_vol
        if request.chain is not None:
            vol = chain_atm_vol(request.chain, horizon_days=mc.days)
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"backtest: cannot read recorded data: {exc}") from None
    placed = book.shifted(by_ms=times[0] - start_ms)
    market = candle_paths(
        times,
        closes,
        step_minutes=round(mc.step_minutes),
        window_days=horizon_days(placed, times[0], request.window_days or mc.days),
        implied_vol=vol or mc.vol,
        spot=mc.spot,
        source=f"{request.candles.name} ({len(times)} one-minute bars)",
    )
    return market, placed


def reference_width(rule: HedgeRule) -> float:
    """The configured band's width for the fixed-band grid (its minimum if not fixed)."""
    band = rule.band
    if isinstance(band, FixedBand):
        return band.half_width_coin
    return max(getattr(band, "minimum", rule.min_order), rule.min_order)


def execute(
    request: BacktestRequest,
    *,
    book: BacktestBook,
    rule: HedgeRule,
    start_ms: int,
    out: TextIO = sys.stdout,
    progress: TextIO | None = sys.stderr,
) -> list[PolicyResult]:
    """Run the backtest, print the table, write the files; return the results."""
    market, placed = market_for(request, book, start_ms=start_ms)
    paths: BookPaths = revalue(placed, market, rate=request.costs.rate)
    cost_bps = request.costs.fee_bps + request.costs.slippage_bps
    policies = policy_grid(rule, cost_bps=cost_bps, reference_width=reference_width(rule))
    if request.calibrate:
        policies += calibration_grid(rule, cost_bps=cost_bps)
    results = run_policies(
        book=placed,
        paths=paths,
        policies=policies,
        costs=request.costs,
        engine=request.engine,
        progress=progress,
        guards=request.limits,
    )
    start = dt.datetime.fromtimestamp(market.start_ms / 1000, tz=dt.UTC)
    days = market.steps * market.step_ms / 86_400_000
    title = (
        f"{placed.underlying}: {market.source}; {days:.1f} days from {start:%Y-%m-%d %H:%M} UTC "
        f"at {market.step_ms // 60_000}-minute steps; costs {cost_bps:g} bp one way"
    )
    print(title, file=out)
    print(report.table(results), file=out)
    request.out_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "title": title,
        "underlying": placed.underlying,
        "paths": market.paths,
        "steps": market.steps,
        "step_minutes": market.step_ms / 60_000,
        "first_expiry_years": min(
            ((leg.expiry_ms - market.start_ms) / MS_PER_YEAR for leg in placed.options),
            default=None,
        ),
    }
    report.write_csv(request.out_dir / "frontier.csv", results)
    report.write_json(request.out_dir / "frontier.json", results, paths, meta)
    report.plot(request.out_dir / "frontier.png", results, paths, title)
    print(f"wrote {request.out_dir / 'frontier.csv'}, frontier.json, frontier.png", file=out)
    if request.calibrate:
        _print_calibration(results, request, placed.underlying, out)
    return results


def _print_calibration(
    results: list[PolicyResult], request: BacktestRequest, underlying: str, out: TextIO
) -> None:
    best = calibrate(results, max_std=request.max_std, max_var95=request.max_var95)
    budget = ", ".join(
        f"{name} ≤ {value:g} USD"
        for name, value in (("std", request.max_std), ("VaR95", request.max_var95))
        if value is not None
    )
    if best is None:
        print(f"calibration: no band meets {budget or 'the budget'}", file=out)
        return
    row = best.row()
    print(
        f"calibration: {best.policy.name} meets {budget} at the least cost "
        f"({row['cost']:.0f} USD per path, std {row['std']:.0f}, VaR95 {row['var95']:.0f}); "
        f"paste into [hedges.{underlying}]:",
        file=out,
    )
    print(best.policy.config_band, file=out)
