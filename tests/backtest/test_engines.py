"""The two engines agree trade for trade: the vectorised engine is the core policy, not a copy
that drifted. Every policy of the default grid (and the calibration grid) runs on the same paths
of the default book's kind of market, once through `decide` step by step and once vectorised."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest

from hedgebot.backtest.book import BacktestBook, BookPaths, OptionLeg, revalue
from hedgebot.backtest.event import run_event
from hedgebot.backtest.market import MonteCarloSettings, simulate
from hedgebot.backtest.outcome import CostModel
from hedgebot.backtest.policies import Policy, calibration_grid, policy_grid
from hedgebot.backtest.runner import EngineChoice, run_policies
from hedgebot.backtest.vectorised import run_vectorised, supports
from hedgebot.core.policy import FixedBand, HedgeRule, PolicyInputs, RebalanceTo
from hedgebot.model.instruments import Instrument, Kind, Settlement
from tests.backtest.reference import DAY_MS, START_MS

INVERSE_PERP = Instrument(
    venue="sim",
    symbol="BTC-PERPETUAL",
    underlying="BTC",
    kind=Kind.PERPETUAL,
    settlement=Settlement.INVERSE,
    contract_size=10.0,
    min_amount=10.0,
)
BOOK = BacktestBook(
    underlying="BTC",
    options=(
        OptionLeg(
            symbol="C", strike=60_000, expiry_ms=START_MS + 20 * DAY_MS, is_call=True, amount=-5.0
        ),
        OptionLeg(
            symbol="P", strike=55_000, expiry_ms=START_MS + 9 * DAY_MS, is_call=False, amount=-5.0
        ),
    ),
    static_coin=3.0,
    inverse_face_usd=60_000.0,
    hedge=INVERSE_PERP,
    smile=lambda atm, forward, strike, tau: atm * (1.0 + 0.1 * np.abs(np.log(strike / forward))),
)
BASE = HedgeRule(
    target=0.0,
    band=FixedBand(0.25),
    rebalance_to=RebalanceTo.EDGE,
    min_order=0.01,
    max_order=2.0,
    max_position=8.0,
    cooldown_ms=1_800_000,
)
COSTS = CostModel(fee_bps=5.0, half_spread_bps=1.0, funding_rate_8h=0.0001)


@pytest.fixture(scope="module")
def paths() -> BookPaths:
    market = simulate(
        MonteCarloSettings(paths=12, days=8.0, step_minutes=15.0, seed=3), start_ms=START_MS
    )
    return revalue(BOOK, market, rate=0.05)


def _grid() -> list[Policy]:
    policies = policy_grid(BASE, cost_bps=6.0, reference_width=0.25)
    return policies + calibration_grid(BASE, cost_bps=6.0)[::4]


@pytest.mark.parametrize("policy", _grid(), ids=lambda p: p.name)
def test_engines_agree_trade_for_trade(policy: Policy, paths: BookPaths) -> None:
    event, fast = (
        run(name=policy.name, book=BOOK, paths=paths, rule=policy.rule, costs=COSTS, record=True)
        for run in (run_event, run_vectorised)
    )
    assert event.orders is not None
    assert fast.orders is not None
    np.testing.assert_allclose(fast.orders, event.orders, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(fast.trades, event.trades)
    np.testing.assert_array_equal(fast.outside_steps, event.outside_steps)
    for field in ("hedge_pnl", "fees", "spread_slippage", "funding", "max_drawdown"):
        np.testing.assert_allclose(
            getattr(fast, field), getattr(event, field), rtol=1e-9, atol=1e-6, err_msg=field
        )


def test_the_grid_trades_and_limits_bind(paths: BookPaths) -> None:
    """The agreement above is not vacuous: the policies trade, max_order and max_position bind
    (the default book's delta exceeds them), and the unhedged policy never trades."""
    results = run_policies(
        book=BOOK,
        paths=paths,
        policies=_grid()[:5],
        costs=COSTS,
        engine=EngineChoice.EVENT,
    )
    by_name = {r.policy.name: r.outcome for r in results}
    assert by_name["none"].trades.sum() == 0
    assert by_name["clock 15m"].trades.min() > 50
    positions = np.concatenate([o.final_position for o in by_name.values()])
    assert np.abs(positions).max() == pytest.approx(8.0, abs=1e-3)  # max_position reached
    assert by_name["configured"].trades.sum() > 0


@dataclasses.dataclass(frozen=True)
class _OddBand:
    """A band only the event engine knows."""

    def half_width(self, inputs: PolicyInputs) -> float:
        return 0.5 if inputs.price > 60_000 else 0.1


def test_an_unknown_band_runs_on_the_event_engine(paths: BookPaths) -> None:
    rule = dataclasses.replace(BASE, band=_OddBand())
    assert not supports(rule)
    [result] = run_policies(
        book=BOOK,
        paths=paths,
        policies=[Policy(name="odd", rule=rule)],
        costs=COSTS,
    )
    assert result.engine is EngineChoice.EVENT
    assert result.outcome.trades.sum() > 0


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_a_progress_bar_runs_on_a_terminal_only(paths: BookPaths) -> None:
    policies = _grid()[:3]
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        run_policies(book=BOOK, paths=paths, policies=policies, costs=COSTS, progress=stream)
    assert "backtest: 100%" in terminal.getvalue()
    assert "3/3" in terminal.getvalue()
    assert pipe.getvalue() == ""
