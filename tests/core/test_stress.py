"""Margin repriced under shocks: per-tenor vol stress, moves to MM checked against the simulated
venue's own margin, the stressed MM/equity and the collateral top-up."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from hedgebot.core.greeks import black76
from hedgebot.core.headroom import AccountHeadroom, account_headroom
from hedgebot.core.margin_model import MarginModel, MarginRates
from hedgebot.core.risk import AccountBook, BookSnapshot
from hedgebot.core.stress import BISECT_TOLERANCE, StressScenario, TenorVolShock
from hedgebot.model.account import MarginState, Position
from hedgebot.model.instruments import (
    Instrument,
    Kind,
    OptionType,
    Settlement,
    years_between,
)
from hedgebot.model.market import Quote
from hedgebot.venues.sim.accounting import Holding
from hedgebot.venues.sim.margin import margin_state

ATM = Path(__file__).parents[1] / "data" / "deribit" / "crash_2026-02-05" / "btc_atm_options.csv"
"""ATM BTC calls of every expiry at 04:29 and 21:29 UTC on 2026-02-05 (tests/data/README.md)."""

DAY_MS = 86_400_000
NOW = 1_770_264_000_000  # 2026-02-05 04:00 UTC
S = 70_809.93  # BTC index at 04:29 UTC on 2026-02-05 (recorded)
IV = 0.5609  # ATM mark IV of BTC-27FEB26 at 04:29 UTC (recorded)
EXPIRY = NOW + 30 * DAY_MS
COLLATERAL = 7.0
CONTRACTS = 10.0


def option(kind: OptionType) -> Instrument:
    """A 30-day ATM coin-settled BTC option."""
    letter = "C" if kind is OptionType.CALL else "P"
    return Instrument(
        venue="deribit",
        symbol=f"BTC-30D-{S:.0f}-{letter}",
        underlying="BTC",
        kind=Kind.OPTION,
        settlement=Settlement.INVERSE,
        strike=S,
        option_type=kind,
        expiry_ms=EXPIRY,
    )


CALL, PUT = option(OptionType.CALL), option(OptionType.PUT)
INSTRUMENTS = {i.key: i for i in (CALL, PUT)}
TAU = years_between(NOW, EXPIRY)


def quote(instrument: Instrument, forward: float, iv: float) -> Quote:
    """Deribit's convention: Black-76 on the forward, mark in coin (price / forward)."""
    price = black76(forward, S, TAU, iv, instrument.option_type is OptionType.CALL).price
    return Quote(
        key=instrument.key,
        timestamp_ms=NOW,
        bid=0.0,
        ask=0.0,
        mark_price=float(price) / forward,
        underlying_price=forward,
        mark_iv=iv,
    )


def venue_margin(forward: float, iv: float) -> MarginState:
    """The simulated venue's own margin of the straddles at one forward and vol."""
    holdings = [
        (i, Holding(amount=-CONTRACTS), quote(i, forward, iv)) for i in INSTRUMENTS.values()
    ]
    return margin_state("BTC", COLLATERAL, holdings, MarginRates())


def straddle_book(collateral: float = COLLATERAL) -> AccountBook:
    """10 short 30-day ATM straddles on 7 BTC, with the venue's margin state."""
    state = venue_margin(S, IV)
    extra = collateral - COLLATERAL
    return AccountBook(
        account="a",
        positions=tuple(Position(account="a", key=k, amount=-CONTRACTS) for k in INSTRUMENTS),
        collateral={"BTC": collateral},
        margin=(
            MarginState(
                currency="BTC",
                equity=state.equity + extra,
                initial_margin=state.initial_margin,
                maintenance_margin=state.maintenance_margin,
            ),
        ),
    )


def headroom(
    book: AccountBook, stress: StressScenario, model: MarginModel = MarginModel.DERIBIT_STANDARD
) -> AccountHeadroom:
    """The single headroom row of the book."""
    [row] = account_headroom(
        BookSnapshot(
            books=[book],
            instruments=INSTRUMENTS,
            quotes={k: quote(i, S, IV) for k, i in INSTRUMENTS.items()},
            index_prices={"BTC": S},
            now_ms=NOW,
        ),
        stress=stress,
        margin_models={"a": model},
    )
    return row


PLUS_20 = StressScenario(spot_move=-0.15, vol=TenorVolShock(points=0.20))


def test_default_tenor_shape_fits_the_2026_02_05_sell_off() -> None:
    """The square-root-of-time shape, with its level fitted at 30 days, reproduces the recorded
    ATM vol rise of every expiry from one week to 322 days within 5 vol points."""
    with ATM.open() as f:
        rows = list(csv.DictReader(f))
    before = {r["expiry_datetime"]: r for r in rows if "T0429" in r["snapshot"]}
    after = {r["expiry_datetime"]: r for r in rows if "T2129" in r["snapshot"]}
    days, rises = [], []
    for expiry in sorted(before.keys() & after.keys()):
        tau = float(after[expiry]["time_to_maturity"])
        if tau * 365 >= 7:
            days.append(tau)
            rises.append(
                float(after[expiry]["implied_volatility"])
                - float(before[expiry]["implied_volatility"])
            )
    shape = TenorVolShock(points=1.0).shift(np.array(days))
    level = float(np.dot(shape, rises) / np.dot(shape, shape))
    assert 0.18 < level < 0.25  # about +21.6 points at 30 days after a 10 % fall
    fitted = TenorVolShock(points=level).shift(np.array(days))
    assert len(days) >= 7
    assert np.max(np.abs(fitted - np.array(rises))) < 0.05
    assert rises[0] > 2 * rises[3] > 4 * rises[-1]  # short tenors move most


def test_short_straddles_reach_mm_sooner_with_repriced_margin() -> None:
    """Holding MM fixed overstates the headroom of short options: repriced at the shocked marks
    (0.075 + mark per contract) the account reaches MM on smaller moves, and smaller still when
    vol rises 20 points. At each repriced move the simulated venue's own margin is at 100 %."""
    row = headroom(straddle_book(), PLUS_20)
    fixed = headroom(straddle_book(), PLUS_20, MarginModel.REPORTED)
    assert row.revalued_down is not None
    assert row.revalued_up is not None
    assert fixed.revalued_down is not None
    assert fixed.revalued_up is not None
    assert row.stressed_down is not None
    assert row.stressed_up is not None
    assert -row.revalued_down < -fixed.revalued_down
    assert row.revalued_up < fixed.revalued_up
    assert -row.stressed_down < -row.revalued_down
    assert row.stressed_up < row.revalued_up
    for move, iv in (
        (row.revalued_down, IV),
        (row.revalued_up, IV),
        (row.stressed_down, IV + 0.2),
        (row.stressed_up, IV + 0.2),
    ):
        venue = venue_margin(S * (1 + move), iv)
        assert venue.maintenance_ratio == pytest.approx(1.0, abs=1e-6)
        inside = venue_margin(S * (1 + move * 0.99), iv)
        assert inside.maintenance_ratio < 1.0


def test_top_up_restores_the_target_ratio_under_the_stress_scenario() -> None:
    """Adding the stated top-up (in coin) brings the stressed MM/equity to the target exactly."""
    scenario = StressScenario(spot_move=-0.15, vol=TenorVolShock(points=0.25), target_ratio=0.5)
    row = headroom(straddle_book(), scenario)
    assert row.stress is not None
    assert row.stress.maintenance_ratio > 0.5
    assert row.stress.top_up > 0
    assert row.stress.top_up_usd == pytest.approx(row.stress.top_up * S)
    topped = headroom(straddle_book(COLLATERAL + row.stress.top_up), scenario)
    assert topped.stress is not None
    assert topped.stress.maintenance_ratio == pytest.approx(0.5, rel=1e-9)
    assert topped.stress.top_up == pytest.approx(0.0, abs=1e-9)
    # the stressed figure is the venue's margin at the shocked forward and 30-day vol + 25 points
    venue = venue_margin(S * 0.85, IV + 0.25)
    assert row.stress.maintenance_ratio == pytest.approx(venue.maintenance_ratio, rel=1e-9)


def test_unknown_margin_model_is_flagged_approximate() -> None:
    """REPORTED lines carry the approximate flag the report prints."""
    assert headroom(straddle_book(), PLUS_20, MarginModel.REPORTED).approximate
    assert not headroom(straddle_book(), PLUS_20).approximate


def test_tenor_shock_is_larger_for_short_expiries_and_floored() -> None:
    """dv(T) = dv·(30/T)^0.5, with T floored at 3 days."""
    shock = TenorVolShock(points=0.25)
    days = np.array([0.5, 3.0, 7.0, 30.0, 120.0]) / 365.0
    assert shock.shift(days) == pytest.approx(
        [0.25 * math.sqrt(10), 0.25 * math.sqrt(10), 0.25 * math.sqrt(30 / 7), 0.25, 0.125]
    )
    assert BISECT_TOLERANCE < 1e-6


def test_example_figures_quoted_in_the_readme() -> None:
    """README.md, 'Margin': moves to MM of the example book, in % of the price."""
    row = headroom(straddle_book(), PLUS_20)
    fixed = headroom(straddle_book(), PLUS_20, MarginModel.REPORTED)

    def pct(*moves: float | None) -> tuple[float, ...]:
        return tuple(round(100 * m, 1) for m in moves if m is not None)

    assert pct(row.move_to_mm_down, row.move_to_mm_up) == (-28.0, 42.4)
    assert pct(fixed.revalued_down, fixed.revalued_up) == (-29.6, 73.0)
    assert pct(row.revalued_down, row.revalued_up) == (-20.8, 37.5)
    assert pct(row.stressed_down, row.stressed_up) == (-18.8, 35.3)
    default = headroom(straddle_book(), StressScenario())
    assert default.stress is not None
    assert round(100 * default.stress.maintenance_ratio) == 88
    assert round(default.stress.top_up, 2) == 3.45


def test_account_stress_of_one_underlying_is_its_line_stress() -> None:
    """With one underlying the all-at-once figure is the per-underlying one."""
    from hedgebot.core.stress import account_stress

    book = straddle_book()
    quotes = {k: quote(i, S, IV) for k, i in INSTRUMENTS.items()}
    lines = account_stress(
        BookSnapshot(
            books=[book],
            instruments=INSTRUMENTS,
            quotes=quotes,
            index_prices={"BTC": S},
            now_ms=NOW,
        ),
        scenario=StressScenario(),
    )
    row = headroom(book, StressScenario())
    assert row.stress is not None
    line = lines["a", "BTC"]
    assert line.maintenance_ratio == pytest.approx(row.stress.maintenance_ratio, rel=1e-12)
    assert line.top_up_usd == pytest.approx(row.stress.top_up_usd, rel=1e-12)
