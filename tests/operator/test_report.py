"""The `hedgebot risk` text: positions, greeks, headroom and shock grid an operator can read."""

from __future__ import annotations

import csv
import re

import pytest

from hedgebot.core.headroom import account_headroom
from hedgebot.core.policy import FixedBand, HedgeRule, RebalanceTo
from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.core.shocks import DEFAULT_SPOT_MOVES, shock_grid
from hedgebot.core.term_risk import term_risk
from hedgebot.model.account import MarginState, Position
from hedgebot.model.instruments import (
    Instrument,
    InstrumentKey,
    Kind,
    OptionType,
    Settlement,
    deribit_expiry_ms,
)
from hedgebot.model.market import Quote
from hedgebot.operator.report import render_risk_report, risk_report_text
from tests.support.sample_instruments import CHAIN, LINEAR_PERP, NOW, PERP, S

CALL = Instrument(
    venue="deribit",
    symbol="BTC-31JAN24-70000-C",
    underlying="BTC",
    kind=Kind.OPTION,
    settlement=Settlement.INVERSE,
    strike=70_000.0,
    option_type=OptionType.CALL,
    expiry_ms=deribit_expiry_ms("31JAN24"),
)


def flat_quote(instrument: Instrument, mark: float, iv: float | None = None) -> Quote:
    """A quote at the index with the given mark."""
    return Quote(
        key=instrument.key,
        timestamp_ms=NOW,
        bid=0.0,
        ask=0.0,
        mark_price=mark,
        underlying_price=S,
        mark_iv=iv,
    )


INSTRUMENTS = {i.key: i for i in (PERP, LINEAR_PERP, CALL)}
QUOTES = {
    PERP.key: flat_quote(PERP, S),
    LINEAR_PERP.key: flat_quote(LINEAR_PERP, S),
    CALL.key: flat_quote(CALL, 0.01, 0.6),
}
BOOKS = [
    AccountBook(
        account="deribit-main",
        positions=(
            Position(account="deribit-main", key=PERP.key, amount=-600_000.0),
            Position(account="deribit-main", key=CALL.key, amount=-2.0),
        ),
        collateral={"BTC": 10.0},
        margin=(
            MarginState(currency="BTC", equity=10.0, initial_margin=9.5, maintenance_margin=9.0),
        ),
    ),
    AccountBook(
        account="binance",
        positions=(Position(account="binance", key=LINEAR_PERP.key, amount=1.0),),
        margin=(
            MarginState(
                currency="USDT", equity=10_000.0, initial_margin=2_000.0, maintenance_margin=1_000.0
            ),
        ),
    ),
]


def report(
    books: list[AccountBook] = BOOKS,
    quotes: dict[InstrumentKey, Quote] = QUOTES,
) -> str:
    """The report of `books` at 60,000."""
    return risk_report_text(
        BookSnapshot(
            books=books, instruments=INSTRUMENTS, quotes=quotes, index_prices={"BTC": S}, now_ms=NOW
        )
    )


TITLES = re.compile(r"^(POSITIONS|GREEKS PER UNDERLYING|MARGIN HEADROOM|SHOCK GRID)")


def section(text: str, title: str) -> list[str]:
    """The lines of the section whose title line starts with `title`, up to the next title."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(title))
    end = next((n for n in range(start + 1, len(lines)) if TITLES.match(lines[n])), len(lines))
    return lines[start:end]


def test_report_lists_every_position_with_its_delta_and_method() -> None:
    """Each position and collateral balance appears with its amount, coin delta and method."""
    lines = section(report(), "POSITIONS")
    perp = next(line for line in lines if "deribit:BTC-PERPETUAL" in line)
    assert "-600,000.0000" in perp
    assert "-10.0000" in perp
    assert "USD face / mark" in perp
    call = next(line for line in lines if "BTC-31JAN24-70000-C" in line)
    assert "premium-adjusted Black-76 delta (coin-settled)" in call
    assert any("BTC collateral" in line and "coin equity (venue)" in line for line in lines)
    assert any("binanceusdm:BTC/USDT:USDT" in line for line in lines)


def test_report_shows_the_greeks_risk_computed() -> None:
    """The greeks row carries risk's net delta in coin and USD, gamma and vega."""
    risk = assess(
        BookSnapshot(
            books=BOOKS, instruments=INSTRUMENTS, quotes=QUOTES, index_prices={"BTC": S}, now_ms=NOW
        )
    ).underlyings["BTC"]
    row = section(report(), "GREEKS PER UNDERLYING")[3]
    assert row.split()[0] == "BTC"
    assert f"{risk.net_delta:,.4f}" in row
    assert f"{risk.net_delta_usd:,.2f}" in row
    assert f"{risk.gamma:.4e}" in row
    assert f"{risk.vega:,.2f}" in row


def test_report_shows_headroom_from_greeks_and_revaluation() -> None:
    """Each margin line shows MM/equity and both moves to maintenance margin and the difference."""
    lines = section(report(), "MARGIN HEADROOM")
    coin = next(line for line in lines if line.startswith("deribit-main"))
    assert "90.0%" in coin
    linear = next(line for line in lines if line.startswith("binance"))
    assert "10.0%" in linear
    # −9000/59000 from greeks (MM 1,000 scaled with the price); the linear perp's repriced MM
    # (1 % + 0.5 % per USD 1M of notional) falls with the price, so revaluation finds −15.16 %
    assert "-15.25%" in linear
    assert linear.count("-15.16%") == 2  # no options: the stress vol shock changes nothing
    assert "none" in linear  # a long never reaches MM going up
    assert linear.endswith("repriced")


def test_shock_grid_has_a_row_per_spot_move_and_a_column_per_vol_shift() -> None:
    """Every margin line gets a table of equity change and MM/equity over the grid."""
    lines = section(report(), "SHOCK GRID BTC")
    text = "\n".join(lines)
    assert "deribit-main BTC" in text
    assert "binance USDT" in text
    rows = [line for line in lines if re.match(r"^[+-]\d+\.\d\d%", line)]
    assert len(rows) == 3 * len(DEFAULT_SPOT_MOVES)  # two accounts and the USD total
    header = re.split(r"\s{2,}", lines[-len(DEFAULT_SPOT_MOVES) - 2].strip())
    assert header == ["spot \\ vol", "vol -20 pt", "vol +0 pt", "vol +20 pt"]
    up_ten = next(line for line in rows if line.startswith("+10.00%") and "USDT" in line)
    assert up_ten.count("6,000.00 USDT") == 3  # 1 BTC × 6,000, whatever the vol


def test_tables_are_fixed_width() -> None:
    """Within a table every right-aligned row ends in the same column as its separator."""
    lines = section(report(), "GREEKS PER UNDERLYING")
    assert len(lines[1]) == len(lines[2]) == len(lines[3])
    grid = [line for line in section(report(), "SHOCK GRID") if line]
    assert len({len(line) for line in grid[-len(DEFAULT_SPOT_MOVES) - 1 :]}) == 1


def test_report_flags_positions_it_could_not_value() -> None:
    """A position without a quote is named as incomplete rather than valued at zero."""
    quotes = {k: q for k, q in QUOTES.items() if k != CALL.key}
    text = report(quotes=quotes)
    assert "BTC incomplete, not valued: deribit:BTC-31JAN24-70000-C (no quote)" in text
    assert "not revalued: deribit:BTC-31JAN24-70000-C (no quote)" in text


def test_render_takes_the_computed_pieces() -> None:
    """Rendering from separately computed risk, headroom and grid gives the same report."""
    index = {"BTC": S}
    rendered = render_risk_report(
        risk=assess(
            BookSnapshot(
                books=BOOKS, instruments=INSTRUMENTS, quotes=QUOTES, index_prices=index, now_ms=NOW
            )
        ),
        headroom=account_headroom(
            BookSnapshot(
                books=BOOKS, instruments=INSTRUMENTS, quotes=QUOTES, index_prices=index, now_ms=NOW
            )
        ),
        grid=shock_grid(
            BookSnapshot(
                books=BOOKS, instruments=INSTRUMENTS, quotes=QUOTES, index_prices=index, now_ms=NOW
            )
        ),
        terms=term_risk(
            report=assess(
                BookSnapshot(
                    books=BOOKS,
                    instruments=INSTRUMENTS,
                    quotes=QUOTES,
                    index_prices=index,
                    now_ms=NOW,
                )
            ),
            instruments=INSTRUMENTS,
            quotes=QUOTES,
        ),
    )
    assert rendered == report()
    assert rendered.startswith("hedgebot risk report  2024-01-01 08:00:00 UTC\n")


def test_report_of_a_real_deribit_chain() -> None:
    """A book of real Deribit options renders every section with finite numbers."""
    with CHAIN.open() as f:
        rows = list(csv.DictReader(f))[:40]
    now = int(rows[0]["timestamp"])
    index = float(rows[0]["index_price"])
    instruments: dict[InstrumentKey, Instrument] = {}
    quotes: dict[InstrumentKey, Quote] = {}
    positions = []
    for n, row in enumerate(rows):
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
        instruments[instrument.key] = instrument
        quotes[instrument.key] = Quote(
            key=instrument.key,
            timestamp_ms=now,
            bid=0.0,
            ask=0.0,
            mark_price=float(row["mark_price"]),
            underlying_price=float(row["underlying_price"]),
            mark_iv=float(row["mark_iv"]) / 100.0,
        )
        positions.append(Position(account="d", key=instrument.key, amount=(n % 5) - 2.0))
    book = AccountBook(
        account="d",
        positions=tuple(positions),
        collateral={"BTC": 20.0},
        margin=(
            MarginState(currency="BTC", equity=20.0, initial_margin=6.0, maintenance_margin=4.0),
        ),
    )
    text = risk_report_text(
        BookSnapshot(
            books=[book],
            instruments=instruments,
            quotes=quotes,
            index_prices={"BTC": index},
            now_ms=now,
        )
    )
    assert not re.search(r"\b(nan|inf)\b", text)
    assert text.count("deribit:BTC-") >= 40
    assert "SHOCK GRID BTC (index 47,795.22)" in text


def _snapshot() -> BookSnapshot:
    return BookSnapshot(
        books=BOOKS, instruments=INSTRUMENTS, quotes=QUOTES, index_prices={"BTC": S}, now_ms=NOW
    )


def _hedges(half_width: float, target: float = 0.0) -> dict[str, HedgeRule]:
    rule = HedgeRule(
        target=target,
        band=FixedBand(half_width),
        rebalance_to=RebalanceTo.EDGE,
        min_order=0.01,
        max_order=5.0,
        max_position=50.0,
        cooldown_ms=0,
    )
    return {"BTC": rule}


def _band_row(text: str) -> list[str]:
    lines = text.split("HEDGE BANDS", 1)[1].split("\n\n", 1)[0].splitlines()
    return re.split(r"\s{2,}", next(line for line in lines if line.startswith("BTC")).strip())


def test_band_section_shows_the_price_moves_that_bring_the_delta_to_the_band_edges() -> None:
    """The report's moves solve (Δ − target) + Γ·dS = ±H: from the book's own delta and gamma,
    the move down and the move up land on the two edges (to the printed rounding)."""
    risk = assess(_snapshot())
    btc = risk.underlyings["BTC"]
    assert btc.gamma != 0.0
    target = btc.net_delta + 0.05  # the delta is 0.05 coin under the target
    text = risk_report_text(
        _snapshot(),
        hedges=_hedges(0.2, target=target),
    )
    row = _band_row(text)
    assert row[:3] == ["BTC", "FixedBand", "0.2000"]
    assert row[5] == "-0.0500"
    down, up = (float(cell.rstrip("%")) / 100 * S for cell in row[6:8])
    assert down < 0 < up
    edges = sorted(-0.05 + btc.gamma * move for move in (down, up))
    assert edges == pytest.approx([-0.2, 0.2], abs=0.2 * 0.01)


def test_band_section_says_when_the_delta_is_outside_the_band_already() -> None:
    risk = assess(_snapshot())
    text = risk_report_text(
        _snapshot(),
        hedges=_hedges(0.1, target=risk.underlyings["BTC"].net_delta + 0.5),
    )
    assert _band_row(text)[6:8] == ["outside now", "outside now"]
