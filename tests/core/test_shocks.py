"""Full revaluation under price and vol shocks: hand-computed books, grids, the risk cross-check."""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgebot.core.greeks import black76
from hedgebot.core.margin_model import MarginModel
from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.core.shocks import (
    DEFAULT_SPOT_MOVES,
    DEFAULT_VOL_SHIFTS,
    VOL_FLOOR,
    LineRevaluation,
    revalue,
    shock_grid,
)
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
from tests.support.sample_instruments import CHAIN, FUTURE, LINEAR_PERP, NOW, PERP, S

Book = tuple[list[AccountBook], dict[InstrumentKey, Instrument], dict[InstrumentKey, Quote]]


def option(
    strike: float, kind: OptionType, *, expiry: str = "31JAN24", coin: bool = True
) -> Instrument:
    """A BTC option, coin-settled (Deribit) or linear."""
    return Instrument(
        venue="deribit" if coin else "okx",
        symbol=f"BTC-{expiry}-{strike:.0f}-{kind.value[0].upper()}{'' if coin else '-USDC'}",
        underlying="BTC",
        kind=Kind.OPTION,
        settlement=Settlement.INVERSE if coin else Settlement.LINEAR,
        strike=strike,
        option_type=kind,
        expiry_ms=deribit_expiry_ms(expiry),
    )


def quote(instrument: Instrument, forward: float, iv: float | None = None) -> Quote:
    """A quote with the forward as mark for futures, a model mark for options."""
    mark = forward
    if instrument.kind is Kind.OPTION and instrument.strike is not None and iv is not None:
        tau = years_between(NOW, instrument.expiry_ms or NOW)
        is_call = instrument.option_type is OptionType.CALL
        price = float(black76(forward, instrument.strike, tau, iv, is_call).price)
        mark = price / forward if instrument.is_inverse else price
    return Quote(
        key=instrument.key,
        timestamp_ms=NOW,
        bid=0.0,
        ask=0.0,
        mark_price=mark,
        underlying_price=forward,
        mark_iv=iv,
    )


def book_of(
    account: str,
    holdings: Sequence[tuple[Instrument, float, Quote]],
    *,
    collateral: Mapping[str, float] | None = None,
    margin: Sequence[MarginState] = (),
    count_collateral: bool = True,
) -> Book:
    """One account holding `amount` of each instrument, with its quotes."""
    book = AccountBook(
        account=account,
        positions=tuple(Position(account=account, key=i.key, amount=a) for i, a, _ in holdings),
        collateral=dict(collateral or {}),
        margin=tuple(margin),
        count_collateral=count_collateral,
    )
    return [book], {i.key: i for i, _, _ in holdings}, {i.key: q for i, _, q in holdings}


def shocked(
    book: Book,
    x: float,
    dv: float = 0.0,
    *,
    index: float = S,
    now: int = NOW,
    model: MarginModel = MarginModel.DERIBIT_STANDARD,
) -> dict[str, LineRevaluation]:
    """Every line of every account under one shock, by 'account/currency'."""
    books, instruments, quotes = book
    result = revalue(
        BookSnapshot(
            books=books,
            instruments=instruments,
            quotes=quotes,
            index_prices={"BTC": index},
            now_ms=now,
        ),
        margin_models={b.account: model for b in books},
        underlying="BTC",
        spot_move=x,
        vol_shift=dv,
    )
    return {f"{a}/{c}": line for a, r in result.items() for c, line in r.lines.items()}


def neutral_book() -> Book:
    """10 BTC collateral short 600,000 USD of inverse perp at 60,000: USD-neutral."""
    return book_of(
        "deribit",
        [(PERP, -600_000.0, quote(PERP, S))],
        collateral={"BTC": 10.0},
        margin=[
            MarginState(currency="BTC", equity=10.0, initial_margin=0.3, maintenance_margin=0.2)
        ],
    )


@pytest.mark.parametrize("x", DEFAULT_SPOT_MOVES)
def test_usd_neutral_coin_account_keeps_its_usd_equity(x: float) -> None:
    """A coin account hedged with an inverse perp keeps its USD value; its coin equity moves."""
    line = shocked(neutral_book(), x)["deribit/BTC"]
    assert line.change_usd == pytest.approx(0.0, abs=1e-7)
    assert line.shocked_equity_usd == pytest.approx(600_000.0, rel=1e-12)
    assert line.change == pytest.approx(-10.0 * x / (1.0 + x), rel=1e-12, abs=1e-15)
    assert line.shocked_equity == pytest.approx(10.0 / (1.0 + x), rel=1e-12)


def test_reported_model_keeps_coin_mm_in_coin_and_scales_linear_mm_with_price() -> None:
    """REPORTED: shocked MM is constant in coin for coin accounts, grows with price for USD ones."""
    usd = MarginState(
        currency="USDT", equity=20_000.0, initial_margin=1_000.0, maintenance_margin=500.0
    )
    books, instruments, quotes = neutral_book()
    linear, linear_instruments, linear_quotes = book_of(
        "binance", [(LINEAR_PERP, 2.0, quote(LINEAR_PERP, S))], margin=[usd]
    )
    lines = shocked(
        (books + linear, instruments | linear_instruments, quotes | linear_quotes),
        0.1,
        model=MarginModel.REPORTED,
    )
    coin, dollars = lines["deribit/BTC"], lines["binance/USDT"]
    assert coin.approximate
    assert coin.maintenance_margin == 0.2
    assert coin.maintenance_ratio == pytest.approx(0.2 / (10.0 / 1.1))
    assert dollars.change == pytest.approx(2.0 * S * 0.1)
    assert dollars.change_usd == dollars.change
    assert dollars.maintenance_margin == pytest.approx(550.0)
    assert dollars.maintenance_ratio == pytest.approx(550.0 / 32_000.0)


def test_standard_model_reprices_the_perp_and_linear_mm_with_the_notional() -> None:
    """DERIBIT_STANDARD: venue MM plus the modelled change. The inverse perp's coin notional
    600,000/F shrinks by 1/1.1 at +10 %; the linear perp's USD notional grows by 1.1."""
    usd = MarginState(
        currency="USDT", equity=20_000.0, initial_margin=1_000.0, maintenance_margin=500.0
    )
    books, instruments, quotes = neutral_book()
    linear, linear_instruments, linear_quotes = book_of(
        "binance", [(LINEAR_PERP, 2.0, quote(LINEAR_PERP, S))], margin=[usd]
    )
    lines = shocked((books + linear, instruments | linear_instruments, quotes | linear_quotes), 0.1)
    coin, dollars = lines["deribit/BTC"], lines["binance/USDT"]
    perp_mm = 600_000.0 / S * (0.01 + 0.005 * 0.6)
    assert not coin.approximate
    assert coin.maintenance_margin == pytest.approx(0.2 + perp_mm * (1 / 1.1 - 1), rel=1e-12)
    linear_now = 2.0 * S * (0.01 + 0.005 * 2.0 * S / 1e6)
    linear_after = 2.0 * S * 1.1 * (0.01 + 0.005 * 2.0 * S * 1.1 / 1e6)
    assert dollars.maintenance_margin == pytest.approx(500.0 + linear_after - linear_now)


def test_inverse_future_pays_face_times_inverse_price_difference() -> None:
    """An inverse future's coin P&L is N·(1/F0 − 1/F1) on its own forward, not the index."""
    forward = 61_500.0
    book = book_of("a", [(FUTURE, 300_000.0, quote(FUTURE, forward))], collateral={"BTC": 1.0})
    line = shocked(book, -0.2)["a/BTC"]
    assert line.change == pytest.approx(300_000.0 * (1 / forward - 1 / (forward * 0.8)), rel=1e-12)
    assert line.shocked_equity_usd == pytest.approx((1.0 + line.change) * S * 0.8, rel=1e-12)


def test_coin_option_is_revalued_in_coin_with_the_shifted_vol() -> None:
    """A coin-settled call changes by its Black-76 USD price over the forward, before and after."""
    call = option(65_000.0, OptionType.CALL)
    book = book_of("a", [(call, 3.0, quote(call, 60_500.0, 0.55))], collateral={"BTC": 2.0})
    tau = years_between(NOW, call.expiry_ms or NOW)
    before = float(black76(60_500.0, 65_000.0, tau, 0.55, True).price) / 60_500.0
    after = float(black76(60_500.0 * 1.1, 65_000.0, tau, 0.65, True).price) / (60_500.0 * 1.1)
    assert shocked(book, 0.1, 0.1)["a/BTC"].change == pytest.approx(
        3.0 * (after - before), rel=1e-12
    )


def test_linear_option_is_revalued_in_usd() -> None:
    """A USD-settled put changes the account's USD equity by its Black-76 price change."""
    put = option(55_000.0, OptionType.PUT, coin=False)
    usdc = MarginState(currency="USDC", equity=50_000.0, initial_margin=0.0, maintenance_margin=0.0)
    book = book_of("okx", [(put, -2.0, quote(put, S, 0.5))], margin=[usdc])
    tau = years_between(NOW, put.expiry_ms or NOW)
    before = float(black76(S, 55_000.0, tau, 0.5, False).price)
    after = float(black76(S * 0.7, 55_000.0, tau, 0.5, False).price)
    line = shocked(book, -0.3)["okx/USDC"]
    assert line.change == pytest.approx(-2.0 * (after - before), rel=1e-12)
    assert line.change_usd == line.change


def test_vol_shift_is_floored_at_a_small_positive_vol() -> None:
    """A vol shift below zero leaves options at the vol floor, not at a negative or zero vol."""
    call = option(60_000.0, OptionType.CALL)
    book = book_of("a", [(call, 1.0, quote(call, S, 0.3))])
    tau = years_between(NOW, call.expiry_ms or NOW)
    floored = float(black76(S, 60_000.0, tau, VOL_FLOOR, True).price) / S
    before = float(black76(S, 60_000.0, tau, 0.3, True).price) / S
    assert shocked(book, 0.0, -0.5)["a/BTC"].change == pytest.approx(floored - before, rel=1e-12)


def test_unvalued_positions_are_reported_missing() -> None:
    """A position without a quote is listed as missing instead of silently valued at zero."""
    books, instruments, quotes = neutral_book()
    call = option(70_000.0, OptionType.CALL)
    book = AccountBook(
        account="deribit",
        positions=(*books[0].positions, Position(account="deribit", key=call.key, amount=1.0)),
        collateral=books[0].collateral,
    )
    result = revalue(
        BookSnapshot(
            books=[book],
            instruments=instruments | {call.key: call},
            quotes=quotes,
            index_prices={"BTC": S},
            now_ms=NOW,
        ),
        underlying="BTC",
        spot_move=0.1,
        vol_shift=0.0,
    )
    assert result["deribit"].missing == (f"{call.key} (no quote)",)


def test_short_straddle_loses_in_both_directions() -> None:
    """A short coin straddle loses coin on every price move, more the further the move."""
    call, put = option(S, OptionType.CALL), option(S, OptionType.PUT)
    book = book_of(
        "a",
        [(call, -10.0, quote(call, S, 0.6)), (put, -10.0, quote(put, S, 0.6))],
        collateral={"BTC": 5.0},
    )
    grid = shock_grid(
        BookSnapshot(
            books=book[0], instruments=book[1], quotes=book[2], index_prices={"BTC": S}, now_ms=NOW
        )
    ).underlyings["BTC"]
    flat = DEFAULT_VOL_SHIFTS.index(0.0)
    changes = [row[flat].change for row in grid.lines[0].cells]
    middle = DEFAULT_SPOT_MOVES.index(0.0)
    assert changes[middle] == pytest.approx(0.0, abs=1e-12)
    assert all(a < b for a, b in itertools.pairwise(changes[: middle + 1]))
    assert all(a > b for a, b in itertools.pairwise(changes[middle:]))


def test_linear_short_straddle_grid_is_concave() -> None:
    """A USD-settled short straddle's equity change is concave in the spot move at every vol."""
    call, put = option(S, OptionType.CALL, coin=False), option(S, OptionType.PUT, coin=False)
    book = book_of("okx", [(call, -5.0, quote(call, S, 0.6)), (put, -5.0, quote(put, S, 0.6))])
    moves = tuple(np.linspace(-0.3, 0.3, 13))
    grid = shock_grid(
        BookSnapshot(
            books=book[0], instruments=book[1], quotes=book[2], index_prices={"BTC": S}, now_ms=NOW
        ),
        spot_moves=moves,
    ).underlyings["BTC"]
    for j in range(len(DEFAULT_VOL_SHIFTS)):
        changes = np.array([row[j].change for row in grid.lines[0].cells])
        assert np.all(np.diff(changes, 2) < 0)
    assert grid.lines[0].currency == "USD"


def test_grid_cells_equal_single_revaluations() -> None:
    """Every grid cell is the same revaluation `revalue` gives for that one shock."""
    call = option(62_000.0, OptionType.CALL)
    book = book_of(
        "a",
        [(call, -4.0, quote(call, 60_300.0, 0.7)), (PERP, 100_000.0, quote(PERP, 60_050.0))],
        collateral={"BTC": 3.0},
        margin=[
            MarginState(currency="BTC", equity=3.1, initial_margin=0.5, maintenance_margin=0.4)
        ],
    )
    grid = shock_grid(
        BookSnapshot(
            books=book[0], instruments=book[1], quotes=book[2], index_prices={"BTC": S}, now_ms=NOW
        )
    ).underlyings["BTC"]
    assert len(grid.lines[0].cells) == len(DEFAULT_SPOT_MOVES)
    for i, x in enumerate(grid.spot_moves):
        for j, dv in enumerate(grid.vol_shifts):
            single = shocked(book, x, dv)["a/BTC"]
            assert grid.lines[0].cells[i][j].change == pytest.approx(single.change, rel=1e-12)
            assert grid.total_change_usd()[i][j] == pytest.approx(single.change_usd, rel=1e-12)


amounts = st.floats(min_value=-50.0, max_value=50.0, allow_nan=False)
strikes = st.floats(min_value=30_000.0, max_value=100_000.0)
vols = st.floats(min_value=0.2, max_value=1.5)
basis = st.floats(min_value=0.95, max_value=1.1)
expiries = st.sampled_from(["31JAN24", "29MAR24", "27DEC24"])
option_rows = st.lists(
    st.tuples(
        strikes, st.sampled_from(list(OptionType)), expiries, amounts, vols, basis, st.booleans()
    ),
    max_size=6,
)


def random_book(
    rows: list[tuple[float, OptionType, str, float, float, float, bool]],
    perp: float,
    future: float,
    collateral: float,
    *,
    count_collateral: bool = True,
) -> Book:
    """A coin account with options, an inverse perp, an inverse future and coin collateral."""
    holdings = [
        (PERP, perp * 1_000, quote(PERP, S * 1.0005)),
        (FUTURE, future * 1_000, quote(FUTURE, S * 1.02)),
    ]
    for strike, kind, expiry, amount, iv, ratio, coin in rows:
        instrument = option(strike, kind, expiry=expiry, coin=coin)
        holdings.append((instrument, amount, quote(instrument, S * ratio, iv)))
    return book_of("a", holdings, collateral={"BTC": collateral}, count_collateral=count_collateral)


@settings(deadline=None, max_examples=60)
@given(option_rows, amounts, amounts, st.floats(min_value=0.0, max_value=100.0))
def test_zero_shock_changes_nothing(
    rows: list[tuple[float, OptionType, str, float, float, float, bool]],
    perp: float,
    future: float,
    collateral: float,
) -> None:
    """With no price move and no vol shift every account's equity is unchanged."""
    book = random_book(rows, perp, future, collateral)
    for line in shocked(book, 0.0, 0.0).values():
        assert line.change == pytest.approx(0.0, abs=1e-9)
        assert line.change_usd == pytest.approx(0.0, abs=1e-9 * S)


def finite_difference_delta(
    book: Book, *, index: float = S, now: int = NOW, step: float = 1e-5
) -> tuple[float, float]:
    """(USD-equity delta, coin-equity sensitivity) in coin, by central differences of `revalue`."""
    up = shocked(book, step, index=index, now=now)
    down = shocked(book, -step, index=index, now=now)
    usd = math.fsum(up[k].change_usd - down[k].change_usd for k in up) / (2 * step * index)
    coin = math.fsum(up[k].change - down[k].change for k in up if up[k].coin) / (2 * step)
    return usd, coin


def net_delta(book: Book, *, index: float = S, now: int = NOW) -> float:
    """`risk.assess`'s net coin delta of the book."""
    books, instruments, quotes = book
    report = assess(
        BookSnapshot(
            books=books,
            instruments=instruments,
            quotes=quotes,
            index_prices={"BTC": index},
            now_ms=now,
        )
    )
    return report.underlyings["BTC"].net_delta


coin_option_rows = st.lists(
    st.tuples(
        strikes, st.sampled_from(list(OptionType)), expiries, amounts, vols, basis, st.just(True)
    ),
    max_size=6,
)


@settings(deadline=None, max_examples=60)
@given(coin_option_rows, amounts, amounts, st.floats(min_value=0.0, max_value=100.0))
def test_revaluation_delta_matches_risk_net_delta(
    rows: list[tuple[float, OptionType, str, float, float, float, bool]],
    perp: float,
    future: float,
    collateral: float,
) -> None:
    """The USD equity's sensitivity to the price, in coin, is the net delta `risk.assess` hedges."""
    book = random_book(rows, perp, future, collateral)
    revalued, _ = finite_difference_delta(book)
    gross = (
        collateral + sum(abs(a) for *_, a, _, _, _ in rows) + (abs(perp) + abs(future)) * 1e3 / S
    )
    assert revalued == pytest.approx(net_delta(book), abs=1e-7 * (1.0 + gross))


@settings(deadline=None, max_examples=30)
@given(coin_option_rows, amounts, amounts, st.floats(min_value=0.0, max_value=100.0))
def test_uncounted_collateral_delta_is_the_coin_equity_sensitivity(
    rows: list[tuple[float, OptionType, str, float, float, float, bool]],
    perp: float,
    future: float,
    collateral: float,
) -> None:
    """Where collateral is not counted, risk's delta is how the coin equity moves per unit move."""
    book = random_book(rows, perp, future, collateral, count_collateral=False)
    _, coin = finite_difference_delta(book)
    gross = sum(abs(a) for *_, a, _, _, _ in rows) + (abs(perp) + abs(future)) * 1e3 / S
    assert coin == pytest.approx(net_delta(book), abs=1e-7 * (1.0 + gross))


def test_linear_future_delta_is_scaled_from_its_forward_to_the_index() -> None:
    """A linear contract above the index moves USD equity by amount·F/S coin per unit index move;
    risk counts exactly that (what a perpetual hedge, tracking the index, must offset)."""
    forward = S * 1.03
    book = book_of("binance", [(LINEAR_PERP, 2.0, quote(LINEAR_PERP, forward))])
    revalued, _ = finite_difference_delta(book)
    assert revalued == pytest.approx(2.0 * forward / S, rel=1e-9)
    assert net_delta(book) == pytest.approx(revalued, rel=1e-9)


def chain_book() -> tuple[Book, float, int]:
    """300 real Deribit BTC options of 2021-02-11 with random amounts, a perp and collateral."""
    with CHAIN.open() as f:
        rows = list(csv.DictReader(f))[:300]
    now = int(rows[0]["timestamp"])
    index = float(rows[0]["index_price"])
    rng = np.random.default_rng(7)
    holdings = []
    for row in rows:
        _, expiry, strike, kind = row["instrument_name"].split("-")
        instrument = Instrument(
            venue="deribit",
            symbol=row["instrument_name"],
            underlying="BTC",
            kind=Kind.OPTION,
            settlement=Settlement.INVERSE,
            strike=float(strike),
            option_type=OptionType.CALL if kind == "C" else OptionType.PUT,
            expiry_ms=deribit_expiry_ms(expiry),
        )
        q = Quote(
            key=instrument.key,
            timestamp_ms=now,
            bid=0.0,
            ask=0.0,
            mark_price=float(row["mark_price"]),
            underlying_price=float(row["underlying_price"]),
            mark_iv=float(row["mark_iv"]) / 100.0,
        )
        holdings.append((instrument, float(rng.normal(0.0, 10.0)), q))
    perp = Quote(
        key=PERP.key,
        timestamp_ms=now,
        bid=0.0,
        ask=0.0,
        mark_price=index * 1.001,
        underlying_price=index * 1.001,
    )
    holdings.append((PERP, -500_000.0, perp))
    books, instruments, quotes = book_of("deribit", holdings, collateral={"BTC": 12.0})
    return (books, instruments, quotes), index, now


def test_real_chain_revaluation_delta_matches_risk_net_delta() -> None:
    """On 300 real Deribit options across expiries the revaluation delta equals risk's net delta."""
    book, index, now = chain_book()
    revalued, _ = finite_difference_delta(book, index=index, now=now, step=1e-6)
    assert revalued == pytest.approx(net_delta(book, index=index, now=now), rel=1e-8)


def test_linear_option_delta_is_scaled_from_its_forward_to_the_index() -> None:
    """A USDC option on a forward 4.7 % above the index (the 323-day basis of 2026-02-05): risk's
    delta matches the revaluation's index delta; unscaled it would be 4.7 % short."""
    put = option(55_000.0, OptionType.PUT, coin=False)
    usdc = MarginState(currency="USDC", equity=50_000.0, initial_margin=0.0, maintenance_margin=0.0)
    forward = S * 1.047
    book = book_of("okx", [(put, -2.0, quote(put, forward, 0.5))], margin=[usdc])
    revalued, _ = finite_difference_delta(book)
    assert net_delta(book) == pytest.approx(revalued, rel=1e-6)
    tau = years_between(NOW, put.expiry_ms or NOW)
    unscaled = -2.0 * float(black76(forward, 55_000.0, tau, 0.5, False).delta)
    assert revalued == pytest.approx(unscaled * 1.047, rel=1e-6)
