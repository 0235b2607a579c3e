"""Runs a set of policies over one book's paths and picks a band for a risk budget.

Owns `PolicyResult` (a policy's outcome and its P&L statistics, with per-path means of every
cost) and `run_policies`, which runs each policy on the vectorised engine where it supports the
band and on the event engine otherwise (or as asked), with a progress bar on a terminal; and
`calibrate`, the cheapest policy whose hedged P&L meets a standard-deviation or VaR budget.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TextIO

import numpy as np
from tqdm import tqdm

from hedgebot.backtest.book import BacktestBook, BookPaths
from hedgebot.backtest.event import run_event
from hedgebot.backtest.outcome import CostModel, Outcome
from hedgebot.backtest.policies import Policy
from hedgebot.backtest.vectorised import run_vectorised, supports
from hedgebot.core.guards import GuardLimits
from hedgebot.core.pnl_stats import PnlStats


class EngineChoice(StrEnum):
    """Which engine runs the policies."""

    AUTO = "auto"
    EVENT = "event"
    VECTORISED = "vectorised"


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyResult:
    """One policy's outcome over all paths, summarised."""

    policy: Policy
    outcome: Outcome
    stats: PnlStats
    engine: EngineChoice
    steps: int
    step_ms: int

    @property
    def days(self) -> float:
        """The horizon of every path, in days."""
        return self.steps * self.step_ms / 86_400_000

    def row(self) -> dict[str, float | str]:
        """The figures of the frontier table (USD means per path unless named otherwise)."""
        o, s = self.outcome, self.stats
        return {
            "policy": self.policy.name,
            "cost": float(o.cost.mean()),
            "fees": float(o.fees.mean()),
            "spread_slippage": float(o.spread_slippage.mean()),
            "funding": float(o.funding.mean()),
            "mean": s.mean,
            "std": s.std,
            "var95": s.var95,
            "var99": s.var99,
            "es95": s.es95,
            "es99": s.es99,
            "max_drawdown": float(o.max_drawdown.mean()),
            "effectiveness": s.effectiveness,
            "trades": float(o.trades.mean()),
            "outside_band": float(o.outside_steps.mean()) / self.steps,
            "band_share": float(np.nanmean(o.band_share))
            if np.isfinite(o.band_share).any()
            else math.nan,
            "trades_per_day": float(o.trades.mean()) / self.days,
            "guard_vetoes": float(o.vetoes.mean()),
            "engine": self.engine.value,
        }


def run_policies(
    *,
    book: BacktestBook,
    paths: BookPaths,
    policies: Sequence[Policy],
    costs: CostModel,
    engine: EngineChoice = EngineChoice.AUTO,
    progress: TextIO | None = None,
    guards: GuardLimits | None = None,
) -> list[PolicyResult]:
    """Every policy over every path; a progress bar goes to `progress` when it is a terminal.
    With `guards`, every hedge also passes the daemon's guards, on the event engine."""
    results = []
    bar = tqdm(
        policies,
        desc="backtest",
        unit="policy",
        file=progress,
        disable=progress is None or not progress.isatty(),
    )
    for policy in bar:
        use = engine
        if use is EngineChoice.AUTO:
            vectorisable = supports(policy.rule) and paths.market.paths > 1 and guards is None
            use = EngineChoice.VECTORISED if vectorisable else EngineChoice.EVENT
        if use is EngineChoice.VECTORISED:
            if guards is not None:
                raise ValueError("the guards run on the event engine only")
            outcome = run_vectorised(
                name=policy.name, book=book, paths=paths, rule=policy.rule, costs=costs
            )
        else:
            outcome = run_event(
                name=policy.name,
                book=book,
                paths=paths,
                rule=policy.rule,
                costs=costs,
                guards=guards,
            )
        results.append(
            PolicyResult(
                policy=policy,
                outcome=outcome,
                stats=outcome.stats(paths),
                engine=use,
                steps=paths.market.steps,
                step_ms=paths.market.step_ms,
            )
        )
    return results


def calibrate(
    results: Sequence[PolicyResult], *, max_std: float | None, max_var95: float | None
) -> PolicyResult | None:
    """The cheapest band policy whose hedged P&L meets every stated budget (None if none does)."""
    fitting = [
        r
        for r in results
        if r.policy.config_band is not None
        and (max_std is None or r.stats.std <= max_std)
        and (max_var95 is None or r.stats.var95 <= max_var95)
    ]
    return min(fitting, key=lambda r: float(r.outcome.cost.mean()), default=None)
