"""Margin headroom: moves to maintenance margin from greeks and from revaluation, IM projection."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hedgebot.core.greeks import black76
from hedgebot.core.headroom import (
    AccountHeadroom,
    account_headroom,
    breaches_floor,
    greeks_moves,
    projected_initial_margin,
)
from hedgebot.core.margin_model import MarginModel
from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.core.shocks import MarginLine
from hedgebot.core.stress import BISECT_TOLERANCE
from hedgebot.model.account import MarginState, Position
from hedgebot.model.instruments import (
    Instrument,
    InstrumentKey,
    Kind,
    OptionType,
    Settlement,
    deribit_expiry_ms,
    years_between,
)
from hedgebot.model.market import Quote
from tests.support.sample_instruments import LINEAR_PERP, NOW, PERP, S

EXPIRY = deribit_expiry_ms("31JAN24")
CALL = Instrument(
    venue="deribit",
    symbol="BTC-31JAN24-60000-C",
    underlying="BTC",
    kind=Kind.OPTION,
    settlement=Settlement.INVERSE,
    strike=S,
    option_type=OptionType.CALL,
    expiry_ms=EXPIRY,
)
PUT = Instrument(
    venue="deribit",
    symbol="BTC-31JAN24-60000-P",
    underlying="BTC",
    kind=Kind.OPTION,
    settlement=Settlement.INVERSE,
    strike=S,
    option_type=OptionType.PUT,
    expiry_ms=EXPIRY,
)
IV = 0.6
INSTRUMENTS = {i.key: i for i in (PERP, LINEAR_PERP, CALL, PUT)}


def quote(instrument: Instrument) -> Quote:
    """The instrument's quote with the forward at the index and options at 60 % vol."""
    mark = S
    if instrument.kind is Kind.OPTION:
        tau = years_between(NOW, EXPIRY)
        mark = float(black76(S, S, tau, IV, instrument.option_type is OptionType.CALL).price) / S
    return Quote(
        key=instrument.key,
        timestamp_ms=NOW,
        bid=0.0,
        ask=0.0,
        mark_price=mark,
        underlying_price=S,
        mark_iv=IV if instrument.kind is Kind.OPTION else None,
    )


QUOTES = {key: quote(i) for key, i in INSTRUMENTS.items()}


def margin(currency: str, equity: float, mm: float, im: float | None = None) -> MarginState:
    """A margin state with IM defaulting to twice MM."""
    im = 2.0 * mm if im is None else im
    return MarginState(currency=currency, equity=equity, initial_margin=im, maintenance_margin=mm)


def book(
    holdings: Sequence[tuple[InstrumentKey, float]],
    margins: Sequence[MarginState],
    *,
    collateral: dict[str, float] | None = None,
    count_collateral: bool = True,
) -> AccountBook:
    """Account 'a' holding the given amounts."""
    return AccountBook(
        account="a",
        positions=tuple(Position(account="a", key=k, amount=amount) for k, amount in holdings),
        collateral=collateral if collateral is not None else {"BTC": margins[0].equity},
        margin=tuple(margins),
        count_collateral=count_collateral,
    )


def headroom(*books: AccountBook, reported: bool = False) -> tuple[AccountHeadroom, ...]:
    """Headroom of the books against the shared instruments and quotes.

    `reported`: margin projected by the REPORTED model (the venue's MM scaled with the price,
    the assumption the greeks-based move makes), so greeks and revaluation compare like for like.
    """
    models = {b.account: MarginModel.REPORTED for b in books} if reported else None
    return account_headroom(
        BookSnapshot(
            books=books, instruments=INSTRUMENTS, quotes=QUOTES, index_prices={"BTC": S}, now_ms=NOW
        ),
        margin_models=models,
    )


def only(rows: tuple[AccountHeadroom, ...]) -> AccountHeadroom:
    """The single headroom row."""
    assert len(rows) == 1
    return rows[0]


def test_usd_neutral_coin_account_reaches_mm_on_the_exact_up_move() -> None:
    """10 BTC short 600,000 USD of perp: coin equity 10/(1+x) meets a fixed MM 9 at x = 1/9.

    Repriced, the perp's coin MM c/(1+x) (c = 1.3 % of 600,000/S, Deribit's 1 % + 0.5 % per USD
    1M) shrinks as the price rises: 10/(1+x) = 9 + c·(1/(1+x) − 1) gives x = 1/(9 − c), later.
    """
    row = only(headroom(book([(PERP.key, -600_000.0)], [margin("BTC", 10.0, 9.0, 9.5)])))
    assert row.move_to_mm_up == pytest.approx(1.0 / 9.0, rel=1e-12)
    c = 0.013 * 600_000.0 / S
    assert row.revalued_up == pytest.approx(1.0 / (9.0 - c), abs=2 * BISECT_TOLERANCE)
    assert row.move_to_mm_down is None
    assert row.revalued_down is None
    assert row.maintenance_ratio == pytest.approx(0.9)
    assert row.available == pytest.approx(0.5)


def test_usd_neutral_coin_account_with_low_margin_never_reaches_mm() -> None:
    """With MM at 5 % of equity the neutral account needs +1900 %: none within ±100 %."""
    row = only(headroom(book([(PERP.key, -600_000.0)], [margin("BTC", 10.0, 0.5)])))
    assert (row.move_to_mm_up, row.move_to_mm_down) == (None, None)
    assert (row.revalued_up, row.revalued_down) == (None, None)


def test_long_linear_perp_reaches_mm_on_the_hand_computed_down_move() -> None:
    """1 BTC long in a 10,000 USDT account with MM 1,000·(1+x) meets MM at x = −9000/59000."""
    usdt = margin("USDT", 10_000.0, 1_000.0)
    row = only(headroom(book([(LINEAR_PERP.key, 1.0)], [usdt], collateral={}), reported=True))
    expected = -9_000.0 / 59_000.0
    assert row.currency == "USDT"
    assert row.move_to_mm_down == pytest.approx(expected, rel=1e-12)
    assert row.revalued_down == pytest.approx(expected, abs=2 * BISECT_TOLERANCE)
    assert row.move_to_mm_up is None
    assert row.down_difference == pytest.approx(0.0, abs=2 * BISECT_TOLERANCE)


def hedged_straddle(mm: float) -> AccountBook:
    """5 BTC of equity short 10 ATM straddles, delta-hedged to USD-neutral with the perp."""
    straddle = [(CALL.key, -10.0), (PUT.key, -10.0)]
    unhedged = book(straddle, [margin("BTC", 5.0, mm)])
    delta = assess(
        BookSnapshot(
            books=[unhedged],
            instruments=INSTRUMENTS,
            quotes=QUOTES,
            index_prices={"BTC": S},
            now_ms=NOW,
        )
    ).underlyings["BTC"]
    return book([*straddle, (PERP.key, -delta.net_delta * S)], [margin("BTC", 5.0, mm)])


@pytest.mark.parametrize("mm", [4.95, 4.9, 4.8, 4.7])
def test_short_straddle_greeks_move_agrees_with_revaluation_for_small_moves(mm: float) -> None:
    """For moves to MM within 5 %, delta-gamma and full revaluation agree within 1 % of the move
    (under the same margin assumption: the venue's MM scaled with the price)."""
    row = only(headroom(hedged_straddle(mm), reported=True))
    assert row.move_to_mm_up is not None
    assert row.revalued_up is not None
    assert 0.0 < row.revalued_up < 0.06
    assert row.up_difference is not None
    assert abs(row.up_difference) <= 0.01 * row.revalued_up


def test_short_straddle_greeks_understate_the_large_up_move_of_a_coin_account() -> None:
    """Far out, a coin call's loss saturates, so revaluation finds more headroom than gamma does."""
    row = only(headroom(hedged_straddle(3.0), reported=True))
    assert row.move_to_mm_up is not None
    assert row.revalued_up is not None
    assert row.revalued_up > row.move_to_mm_up > 0.1


def test_uncounted_collateral_does_not_change_headroom() -> None:
    """Whether collateral counts for hedging, the account's margin physics is the same."""
    counted = only(headroom(hedged_straddle(4.5)))
    base = hedged_straddle(4.5)
    uncounted = only(
        headroom(
            AccountBook(
                account=base.account,
                positions=base.positions,
                collateral=base.collateral,
                margin=base.margin,
                count_collateral=False,
            )
        )
    )
    assert uncounted == counted


def test_account_at_maintenance_margin_has_no_headroom() -> None:
    """An account already at MM reports a zero move both ways."""
    row = only(headroom(book([(PERP.key, -100_000.0)], [margin("BTC", 1.0, 1.0)])))
    assert (row.move_to_mm_up, row.move_to_mm_down) == (0.0, 0.0)
    assert (row.revalued_up, row.revalued_down) == (0.0, 0.0)


def test_margin_without_exposure_is_listed_without_moves() -> None:
    """A margin currency no underlying moves still shows its margin, with no move to MM."""
    rows = headroom(book([], [margin("USDC", 1_000.0, 10.0)], collateral={}))
    assert only(rows).underlying is None
    assert only(rows).move_to_mm_up is None
    assert only(rows).equity == 1_000.0


def test_account_without_margin_state_has_no_headroom_row() -> None:
    """An account whose venue reported no margin cannot be given a headroom."""
    bare = AccountBook(
        account="b",
        positions=(Position(account="b", key=PERP.key, amount=10.0),),
        collateral={"BTC": 1.0},
    )
    assert headroom(bare) == ()


moves = st.floats(min_value=0.001, max_value=0.98)


@given(st.floats(min_value=1.0, max_value=1e6), st.floats(min_value=0.0, max_value=0.9), moves)
def test_delta_neutral_short_gamma_reaches_mm_symmetrically(
    equity: float, mm_share: float, move: float
) -> None:
    """With zero delta net of MM the delta-gamma moves to MM are ±√(2(E−MM)/(|Γ|S²))."""
    mm = mm_share * equity
    gamma = 2.0 * (equity - mm) / (move * move * S * S)
    line = MarginLine(
        account="a", currency="USD", coin=False, equity=equity, margin=margin("USD", equity, mm)
    )
    up, down = greeks_moves(line, S, delta=mm / S, gamma=-gamma)
    assert up == pytest.approx(move, rel=1e-9)
    assert down == pytest.approx(-move, rel=1e-9)


@given(st.floats(min_value=0.01, max_value=1e4), st.floats(min_value=0.0, max_value=0.9), moves)
def test_coin_line_reaches_mm_symmetrically_when_delta_offsets_maintenance(
    equity: float, mm_share: float, move: float
) -> None:
    """A coin line whose delta including equity equals its coin MM meets MM symmetrically."""
    mm = mm_share * equity
    gamma = 2.0 * (equity - mm) / (move * move * S)
    line = MarginLine(
        account="a", currency="BTC", coin=True, equity=equity, margin=margin("BTC", equity, mm)
    )
    up, down = greeks_moves(line, S, delta=mm - equity, gamma=-gamma)
    assert up == pytest.approx(move, rel=1e-9)
    assert down == pytest.approx(-move, rel=1e-9)


def test_projected_initial_margin_adds_the_order_notional_at_the_rate() -> None:
    """IM after a 2 BTC order at a 2 % rate is 0.04 BTC more, whichever the side."""
    state = margin("BTC", 10.0, 0.5, 1.0)
    assert projected_initial_margin(state, order_notional_coin=2.0, im_rate=0.02) == pytest.approx(
        1.04
    )
    assert projected_initial_margin(state, order_notional_coin=-2.0, im_rate=0.02) == pytest.approx(
        1.04
    )
    with pytest.raises(ValueError, match="im_rate"):
        projected_initial_margin(state, order_notional_coin=1.0, im_rate=-0.1)


def test_breaches_floor_refuses_orders_that_eat_the_free_margin_unless_they_reduce_risk() -> None:
    """A hedge leaving less free equity than the floor is refused, a risk-reducing one never is."""
    state = margin("BTC", 10.0, 3.0, 6.0)

    def breaches(state: MarginState, notional: float, *, reduces_risk: bool = False) -> bool:
        return breaches_floor(
            state,
            order_notional_coin=notional,
            im_rate=0.1,
            min_available_ratio=0.3,
            reduces_risk=reduces_risk,
        )

    assert not breaches(state, 9.0)  # IM 6.9, 31 % free
    assert breaches(state, 11.0)  # IM 7.1, 29 % free
    assert not breaches(state, 11.0, reduces_risk=True)
    assert breaches(margin("BTC", 0.0, 0.0, 0.0), 0.0)
