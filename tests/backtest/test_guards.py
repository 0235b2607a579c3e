"""The backtest through the daemon's guards (hedgebot.core.guards.check_order): limits that do
not bind change nothing; a per-minute notional limit refuses large hedges; an hourly limit
engages the kill switch and nothing trades after it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hedgebot.backtest.book import BookPaths, revalue
from hedgebot.backtest.event import run_event
from hedgebot.backtest.market import MonteCarloSettings, simulate
from hedgebot.core.guards import GuardLimits
from tests.backtest.reference import START_MS
from tests.backtest.test_engines import BASE, BOOK, COSTS

LOOSE = GuardLimits(
    max_data_age_s=10.0,
    max_notional_per_minute_usd=2_000_000.0,
    max_notional_per_hour_usd=20_000_000.0,
    max_orders_per_minute=30,
    max_consecutive_rejects=5,
    max_hedge_position={"BTC": 8.0},
    max_abs_net_delta_usd=1e9,
    max_maintenance_ratio=0.9,
)


@pytest.fixture(scope="module")
def paths() -> BookPaths:
    market = simulate(
        MonteCarloSettings(paths=6, days=4.0, step_minutes=15.0, seed=11), start_ms=START_MS
    )
    return revalue(BOOK, market)


def test_limits_that_never_bind_change_nothing(paths: BookPaths) -> None:
    plain = run_event(name="p", book=BOOK, paths=paths, rule=BASE, costs=COSTS, record=True)
    guarded = run_event(
        name="g", book=BOOK, paths=paths, rule=BASE, costs=COSTS, record=True, guards=LOOSE
    )
    assert plain.orders is not None
    assert guarded.orders is not None
    np.testing.assert_array_equal(guarded.orders, plain.orders)
    assert guarded.vetoes.sum() == 0


def test_a_minute_notional_limit_refuses_large_hedges(paths: BookPaths) -> None:
    """Hedges over 0.5 coin (about 30,000 USD) are refused; the rule keeps asking, so the
    book sits further outside its band and trades only in small steps."""
    tight = dataclasses.replace(LOOSE, max_notional_per_minute_usd=30_000.0)
    plain = run_event(name="p", book=BOOK, paths=paths, rule=BASE, costs=COSTS, record=True)
    guarded = run_event(
        name="g", book=BOOK, paths=paths, rule=BASE, costs=COSTS, record=True, guards=tight
    )
    assert plain.orders is not None
    assert guarded.orders is not None
    assert np.abs(plain.orders).max() > 0.6
    assert guarded.vetoes.sum() > 0
    traded = guarded.orders[guarded.orders != 0]
    prices = paths.market.spot[:, :-1][guarded.orders != 0]
    assert np.all(np.abs(traded) * prices <= 30_000.0)
    assert guarded.outside_steps.sum() > plain.outside_steps.sum()


def test_the_hourly_limit_engages_the_kill_switch_for_good(paths: BookPaths) -> None:
    """With the minute limit as high as the hourly one, the only refusal is the hourly limit,
    which engages the kill switch: each path trades exactly as without guards until then, and
    never again after."""
    tight = dataclasses.replace(
        LOOSE, max_notional_per_minute_usd=109_000.0, max_notional_per_hour_usd=109_000.0
    )
    plain = run_event(name="p", book=BOOK, paths=paths, rule=BASE, costs=COSTS, record=True)
    guarded = run_event(
        name="g", book=BOOK, paths=paths, rule=BASE, costs=COSTS, record=True, guards=tight
    )
    assert plain.orders is not None
    assert guarded.orders is not None
    killed = 0
    for p in range(paths.market.paths):
        differs = np.flatnonzero(guarded.orders[p] != plain.orders[p])
        if differs.size == 0:
            assert guarded.vetoes[p] == 0
            continue
        killed += 1
        first = differs[0]
        assert guarded.orders[p, first] == 0.0  # the refused hedge
        assert not guarded.orders[p, first:].any()  # and nothing after it
        assert guarded.vetoes[p] >= 1
    assert killed >= 3  # the first hedge (108,560 USD) passes, one more within the hour not
