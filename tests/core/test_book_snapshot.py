"""`BookSnapshot`: the one frozen value the risk, headroom, shock, stress and report code take."""

from __future__ import annotations

import dataclasses

import pytest

from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.model.account import Position
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import Quote
from tests.support.sample_instruments import NOW, PERP


def _quote(key: InstrumentKey, price: float) -> Quote:
    return Quote(
        key=key,
        timestamp_ms=NOW,
        bid=price - 0.5,
        ask=price + 0.5,
        mark_price=price,
        underlying_price=price,
    )


def test_a_snapshot_is_frozen_and_does_not_see_later_quotes() -> None:
    """Changing the caller's mappings after the snapshot was made changes nothing in it, and
    nothing in it can be assigned: the same snapshot values to the same risk."""
    perp = PERP
    book = AccountBook(
        account="main",
        positions=(Position(account="main", key=perp.key, amount=-60_000.0),),
        count_collateral=False,
    )
    quotes = {perp.key: _quote(perp.key, 60_000.0)}
    books = [book]
    snapshot = BookSnapshot(
        books=books,
        instruments={perp.key: perp},
        quotes=quotes,
        index_prices={"BTC": 60_000.0},
        now_ms=NOW,
    )
    before = assess(snapshot).underlyings["BTC"].net_delta
    quotes[perp.key] = _quote(perp.key, 30_000.0)
    books.clear()
    assert assess(snapshot).underlyings["BTC"].net_delta == pytest.approx(before)
    assert before == pytest.approx(-1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        snapshot.now_ms = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        snapshot.quotes[perp.key] = quotes[perp.key]  # type: ignore[index]
    with pytest.raises(TypeError):
        snapshot.index_prices["BTC"] = 1.0  # type: ignore[index]
    assert isinstance(snapshot.books, tuple)
