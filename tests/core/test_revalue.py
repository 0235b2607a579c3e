"""Tests of the revaluation of coin equity between account reads."""

from __future__ import annotations

import pytest

from hedgebot.core.revalue import equity_change, equity_of, revalue
from hedgebot.model.account import AccountSnapshot, MarginState, Position
from hedgebot.model.instruments import Instrument, Kind, OptionType, Settlement
from hedgebot.model.market import Quote

PERP = Instrument(
    venue="deribit",
    symbol="BTC-PERPETUAL",
    underlying="BTC",
    kind=Kind.PERPETUAL,
    settlement=Settlement.INVERSE,
    contract_size=10.0,
)
CALL = Instrument(
    venue="deribit",
    symbol="BTC-27JUN25-60000-C",
    underlying="BTC",
    kind=Kind.OPTION,
    settlement=Settlement.INVERSE,
    contract_size=0.1,
    expiry_ms=1_751_011_200_000,
    strike=60_000.0,
    option_type=OptionType.CALL,
)
INSTRUMENTS = {PERP.key: PERP, CALL.key: CALL}


def _quote(instrument: Instrument, mark: float, forward: float) -> Quote:
    return Quote(
        key=instrument.key,
        timestamp_ms=0,
        bid=mark * 0.99,
        ask=mark * 1.01,
        mark_price=mark,
        underlying_price=forward,
    )


CASH, PERP_USD, ENTRY, CALLS = 10.0, -300_000.0, 58_000.0, 20.0


def _venue_equity(forward: float, call_mark: float) -> float:
    """Deribit's coin equity, figured independently: cash + perp P&L + option value, in coin."""
    return CASH + PERP_USD * (1 / ENTRY - 1 / forward) + CALLS * call_mark


def test_a_jump_moves_the_equity_as_the_venue_would_figure_it() -> None:
    """Short 300k USD of the inverse perpetual and long 20 calls; BTC jumps from 60k to 66k:
    the revalued equity equals the venue's own figure at the new marks, and the hedge sized on
    it sees the move (the unrevalued figure is off by the whole change)."""
    before = _venue_equity(60_000.0, 0.05)
    after = _venue_equity(66_000.0, 0.09)
    snapshot = AccountSnapshot(
        account="main",
        venue="deribit",
        timestamp_ms=0,
        positions=(
            Position(account="main", key=PERP.key, amount=PERP_USD),
            Position(account="main", key=CALL.key, amount=CALLS),
        ),
        margin=(
            MarginState(currency="BTC", equity=before, initial_margin=1.0, maintenance_margin=0.5),
        ),
    )
    then = {PERP.key: _quote(PERP, 60_000.0, 60_000.0), CALL.key: _quote(CALL, 0.05, 60_000.0)}
    now = {PERP.key: _quote(PERP, 66_000.0, 66_000.0), CALL.key: _quote(CALL, 0.09, 66_000.0)}
    carried = revalue(snapshot, instruments=INSTRUMENTS, read_quotes=then, quotes=now)
    assert equity_of(carried.margin, "BTC") == pytest.approx(after, abs=1e-12)
    assert abs(after - before) > 0.3
    assert carried.positions == snapshot.positions
    assert carried.margin[0].initial_margin == 1.0


def test_missing_marks_and_other_currencies_do_not_move_it() -> None:
    """A position without a mark then or now, or in another currency, adds nothing."""
    snapshot = AccountSnapshot(
        account="main",
        venue="deribit",
        timestamp_ms=0,
        positions=(Position(account="main", key=PERP.key, amount=-100_000.0),),
    )
    now = {PERP.key: _quote(PERP, 66_000.0, 66_000.0)}
    kw = {"instruments": INSTRUMENTS}
    assert equity_change(snapshot, "BTC", read_quotes={}, quotes=now, **kw) == 0.0
    assert equity_change(snapshot, "ETH", read_quotes=now, quotes=now, **kw) == 0.0
    assert revalue(snapshot, read_quotes={}, quotes=now, **kw) is snapshot
