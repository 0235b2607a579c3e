"""Our deltas against the venue's position deltas on Deribit's recorded payload."""

from __future__ import annotations

import dataclasses

import pytest

from hedgebot.core.greeks_check import DivergenceLevel, GreeksTolerance, compare_deltas
from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.model.account import Position
from hedgebot.model.market import Quote
from tests.core.test_size_check import _position, _recorded
from tests.support.ccxt_recorded import catalog_of


def _check(position: Position, mark: float) -> tuple[object, ...]:
    instruments = {i.key: i for i in catalog_of("deribit").instruments}
    quote = Quote(
        key=position.key, timestamp_ms=0, bid=mark, ask=mark, mark_price=mark, underlying_price=mark
    )
    book = AccountBook(account="main", positions=(position,), count_collateral=False)
    report = assess(
        BookSnapshot(
            books=[book],
            instruments=instruments,
            quotes={position.key: quote},
            index_prices={"BTC": mark},
            now_ms=0,
        )
    )
    return compare_deltas(books=[book], report=report)


def test_recorded_position_delta_agrees_with_ours() -> None:
    """Deribit's documented perp: delta 0.006687487 coin, ours 50 / 7476.65."""
    raw = _recorded()
    assert _check(_position(raw), raw["mark_price"]) == ()


@pytest.mark.parametrize(
    ("factor", "level"), [(1.10, DivergenceLevel.WARN), (2.0, DivergenceLevel.HOLD)]
)
def test_divergence_warns_then_holds(factor: float, level: DivergenceLevel) -> None:
    """The venue's delta 10 % off ours (a stale IV or mark) warns; a factor of two (a unit or
    convention error) holds, per position and for the account's book (the recorded position
    scaled to 50,000 USD)."""
    raw = _recorded()
    raw.update(size=50_000, size_currency=6.687487, delta=6.687487)
    parsed = _position(raw)
    assert parsed.venue_delta is not None
    position = dataclasses.replace(parsed, venue_delta=parsed.venue_delta / factor)
    found = _check(position, raw["mark_price"])
    assert [(d.source, d.level) for d in found] == [  # type: ignore[attr-defined]
        ("deribit:BTC-PERPETUAL", level),
        ("book", level),
    ]


def test_tolerance_has_an_absolute_floor_for_small_positions() -> None:
    """A 0.004 coin difference on a tiny position is rounding, not a divergence."""
    raw = _recorded()
    position = dataclasses.replace(_position(raw), venue_delta=0.0107)
    assert _check(position, raw["mark_price"]) == ()
    with pytest.raises(ValueError, match="tolerance"):
        GreeksTolerance(warn_relative=0.5, hold_relative=0.1)
