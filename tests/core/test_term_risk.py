"""Delta, vega and basis per expiry add up to the underlying's figures; vega limits flag."""

from __future__ import annotations

import dataclasses

import pytest

from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.core.term_risk import COLLATERAL, term_risk
from hedgebot.model.account import Position
from tests.core.test_headroom import CALL, INSTRUMENTS, PUT, QUOTES
from tests.support.sample_instruments import FUTURE, NOW, S


def test_expiries_add_up_and_carry_their_basis_and_vega_limit() -> None:
    """Short straddle (31JAN24), a long future (29MAR24) at a 2 % premium, and 3 BTC collateral."""
    instruments = INSTRUMENTS | {FUTURE.key: FUTURE}
    future_quote = dataclasses.replace(
        QUOTES[CALL.key], key=FUTURE.key, mark_price=S * 1.02, underlying_price=S * 1.02
    )
    quotes = {**QUOTES, FUTURE.key: dataclasses.replace(future_quote, mark_iv=None)}
    book = AccountBook(
        account="a",
        positions=(
            Position(account="a", key=CALL.key, amount=-10.0),
            Position(account="a", key=PUT.key, amount=-10.0),
            Position(account="a", key=FUTURE.key, amount=61_200.0),
        ),
        collateral={"BTC": 3.0},
    )
    report = assess(
        BookSnapshot(
            books=[book],
            instruments=instruments,
            quotes=quotes,
            index_prices={"BTC": S},
            now_ms=NOW,
        )
    )
    rows = term_risk(
        report=report, instruments=instruments, quotes=quotes, vega_limits={"BTC": 1_000.0}
    )
    assert [r.expiry for r in rows] == ["2024-01-31", "2024-03-29", COLLATERAL]
    risk = report.underlyings["BTC"]
    assert sum(r.delta for r in rows) == pytest.approx(risk.net_delta)
    assert sum(r.vega for r in rows) == pytest.approx(risk.vega)
    options, future, collateral = rows
    assert future.delta == pytest.approx(1.0)  # 61,200 USD face at 61,200
    assert future.basis == pytest.approx(0.02)
    assert options.basis == pytest.approx(0.0)
    assert collateral.delta == 3.0
    assert collateral.basis is None
    assert options.vega < -1_000.0
    assert options.vega_breached
    assert not future.vega_breached
