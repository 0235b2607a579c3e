"""The reference case of the backtest tests: a short 30-day at-the-money BTC call at σ 60 %,
hedged with a linear perpetual in fine lots, on paths without jumps or stochastic vol."""

from __future__ import annotations

from hedgebot.backtest.book import BacktestBook, OptionLeg
from hedgebot.backtest.market import MonteCarloSettings
from hedgebot.core.policy import FixedBand, HedgeRule, RebalanceTo
from hedgebot.model.instruments import Instrument, Kind

START_MS = 1_772_409_600_000  # 2026-03-02 00:00 UTC
DAY_MS = 86_400_000
SPOT = 60_000.0
VOL = 0.60

LINEAR_PERP = Instrument(
    venue="sim",
    symbol="BTC_USDC-PERPETUAL",
    underlying="BTC",
    kind=Kind.PERPETUAL,
    contract_size=1e-6,
    min_amount=1e-6,
)


def short_call_book(*, days: float = 30.0, amount: float = -1.0) -> BacktestBook:
    """`amount` coin of the ATM call expiring `days` after START_MS, nothing else."""
    leg = OptionLeg(
        symbol="BTC-ATM-C",
        strike=SPOT,
        expiry_ms=START_MS + round(days * DAY_MS),
        is_call=True,
        amount=amount,
    )
    return BacktestBook(underlying="BTC", options=(leg,), hedge=LINEAR_PERP)


def plain_market(*, paths: int, days: float, step_minutes: float, seed: int) -> MonteCarloSettings:
    """Geometric Brownian motion at VOL: no jumps, constant vol, no drift."""
    return MonteCarloSettings(
        paths=paths,
        days=days,
        step_minutes=step_minutes,
        spot=SPOT,
        vol=VOL,
        vol_of_vol=0.0,
        jumps_per_day=0.0,
        jump_std=0.0,
        seed=seed,
    )


def continuous_rule() -> HedgeRule:
    """Back to delta neutral at every decision, in lots of 1e-6 coin, no limits in the way."""
    return HedgeRule(
        target=0.0,
        band=FixedBand(0.0),
        rebalance_to=RebalanceTo.TARGET,
        min_order=1e-6,
        max_order=1e9,
        max_position=1e9,
        cooldown_ms=0,
    )
