"""Two size figures per position: Deribit's recorded `size` and `size_currency` agree; a unit
misread (the documented USDC-linear ambiguity) makes the underlying incomplete, naming the field."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.core.size_check import SIZE_TOLERANCE, disagreeing
from hedgebot.model.account import Position
from hedgebot.model.market import Quote
from hedgebot.venues.ccxt.positions import position_from_ccxt
from tests.support.ccxt_recorded import catalog_of, load_json, loaded_exchange


def _recorded() -> dict[str, Any]:
    return copy.deepcopy(load_json("deribit/get_positions_docs_example.json")["result"][0])


def _position(raw: dict[str, Any]) -> Position:
    parsed = loaded_exchange("deribit").parse_position(raw)
    market = catalog_of("deribit").by_ccxt_symbol(parsed["symbol"])
    assert market is not None
    return position_from_ccxt(parsed, market, account="main", exchange_id="deribit")


def _risk(position: Position, mark: float) -> Any:
    instruments = {i.key: i for i in catalog_of("deribit").instruments}
    quote = Quote(
        key=position.key,
        timestamp_ms=0,
        bid=mark,
        ask=mark,
        mark_price=mark,
        underlying_price=mark,
    )
    book = AccountBook(account="main", positions=(position,), count_collateral=False)
    return assess(
        BookSnapshot(
            books=[book],
            instruments=instruments,
            quotes={position.key: quote},
            index_prices={"BTC": mark},
            now_ms=0,
        )
    ).underlyings["BTC"]


def test_recorded_size_and_size_currency_agree_and_the_position_is_valued() -> None:
    """50 USD face at mark 7476.65 is 0.0066875 BTC: size_currency says 0.006687487."""
    raw = _recorded()
    position = _position(raw)
    assert position.size_coin == raw["size_currency"]
    assert position.size_field == "size_currency"
    risk = _risk(position, raw["mark_price"])
    assert risk.complete
    assert risk.net_delta == pytest.approx(raw["size_currency"], rel=1e-6)


def test_size_read_in_the_wrong_unit_is_not_valued_and_names_the_field() -> None:
    """size_currency of 50 (the USD face taken for coin) disagrees by a factor of the price:
    BTC is incomplete, so the engine holds it, and the reason names `size_currency`."""
    raw = _recorded()
    raw["size_currency"] = 50.0
    risk = _risk(_position(raw), raw["mark_price"])
    assert not risk.complete
    assert risk.net_delta == 0.0
    [reason] = risk.missing
    assert "BTC-PERPETUAL" in reason
    assert "size_currency 50 coin" in reason
    assert "USD face" in reason


def test_rounding_within_tolerance_agrees_and_beyond_it_does_not() -> None:
    """Inverse: 1000 USD at 50,000 is 0.02 BTC; 1 % off is rounding, 5 % off is not."""
    amounts = np.array([1000.0, 1000.0, 1000.0, 2.0])
    usd_face = np.array([True, True, True, False])
    price = np.full(4, 50_000.0)
    second = np.array([0.02 * 1.01, 0.02 * 1.05, np.nan, 2.0])
    assert disagreeing(amounts, usd_face, price, second).tolist() == [False, True, False, False]
    assert SIZE_TOLERANCE == 0.02
