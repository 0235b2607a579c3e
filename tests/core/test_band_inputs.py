"""The percent band's base is the options' gross delta: hedging and collateral do not widen it."""

from __future__ import annotations

import pytest

from hedgebot.core.policy import PercentBand, PolicyInputs
from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.model.account import MarginState, Position
from tests.core.test_headroom import CALL, INSTRUMENTS, PUT, QUOTES
from tests.support.sample_instruments import NOW, PERP, S


def _risk(hedge_usd: float) -> tuple[float, float]:
    """(gross delta, sum of |option deltas|) of 10 short calls and 4 long puts plus a hedge."""
    book = AccountBook(
        account="a",
        positions=(
            Position(account="a", key=CALL.key, amount=-10.0),
            Position(account="a", key=PUT.key, amount=4.0),
            Position(account="a", key=PERP.key, amount=hedge_usd),
        ),
        collateral={"BTC": 25.0},
        margin=(
            MarginState(currency="BTC", equity=25.0, initial_margin=1.0, maintenance_margin=0.5),
        ),
    )
    risk = assess(
        BookSnapshot(
            books=[book],
            instruments=INSTRUMENTS,
            quotes=QUOTES,
            index_prices={"BTC": S},
            now_ms=NOW,
        )
    ).underlyings["BTC"]
    options = sum(
        abs(c.delta) for c in risk.contributions if c.source in (str(CALL.key), str(PUT.key))
    )
    return risk.gross_delta, options


def test_percent_band_base_excludes_collateral_and_the_hedge() -> None:
    """Unhedged or hedged with 1.2M USD of perp, the base is the options' |delta| alone."""
    unhedged, options = _risk(0.0)
    hedged, _ = _risk(-1_200_000.0)
    assert unhedged == pytest.approx(options)
    assert hedged == pytest.approx(options)
    band = PercentBand(percent=10, minimum=0.0, maximum=100.0)

    def width(gross: float) -> float:
        return band.half_width(
            PolicyInputs(
                underlying="BTC",
                now_ms=NOW,
                net_delta=0.0,
                gross_delta=gross,
                gamma=0.0,
                price=S,
                hedge_position=0.0,
                lot=0.001,
                order_in_flight=False,
                last_hedge_ms=None,
            )
        )

    assert width(hedged) == width(unhedged) == pytest.approx(0.1 * options)
