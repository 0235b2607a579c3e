"""`QuoteBoard`: quotes stored per instrument with their valuation inputs in arrays; a book
valued against it gives exactly what the same quotes in a plain dict give, as quotes arrive,
change and disappear."""

from __future__ import annotations

import dataclasses

from hedgebot.core.risk import AccountBook, QuoteBoard, RiskReport, compile_book, evaluate
from hedgebot.model.account import Position
from hedgebot.model.market import Quote
from tests.core.test_headroom import CALL, INSTRUMENTS, PUT, QUOTES
from tests.support.sample_instruments import NOW, PERP, S

BOOK = AccountBook(
    account="main",
    positions=(
        Position(account="main", key=CALL.key, amount=-5.0),
        Position(account="main", key=PUT.key, amount=3.0),
        Position(account="main", key=PERP.key, amount=120_000.0),
    ),
    collateral={"BTC": 2.0},
)


def _figures(report: RiskReport) -> tuple[float, float, float, float, tuple[str, ...]]:
    btc = report.underlyings["BTC"]
    return (btc.net_delta, btc.gross_delta, btc.gamma, btc.vega, btc.missing)


def _both(board: QuoteBoard, plain: dict[object, Quote]) -> None:
    compiled = compile_book([BOOK], INSTRUMENTS)
    on_board = evaluate(compiled, quotes=board, index_prices={"BTC": S}, now_ms=NOW)
    on_dict = evaluate(compiled, quotes=plain, index_prices={"BTC": S}, now_ms=NOW)  # type: ignore[arg-type]
    assert _figures(on_board) == _figures(on_dict)


def test_a_book_valued_on_the_board_matches_the_same_quotes_in_a_dict() -> None:
    """Same figures with no quotes, some, all, a changed one and a removed one; a missing
    option is reported as missing on both."""
    board = QuoteBoard()
    plain: dict[object, Quote] = {}
    _both(board, plain)
    for key in (CALL.key, PERP.key):
        board[key] = plain[key] = QUOTES[key]
    _both(board, plain)
    assert _figures(
        evaluate(
            compile_book([BOOK], INSTRUMENTS), quotes=board, index_prices={"BTC": S}, now_ms=NOW
        )
    )[4]
    board[PUT.key] = plain[PUT.key] = QUOTES[PUT.key]
    _both(board, plain)
    moved = dataclasses.replace(QUOTES[CALL.key], underlying_price=S * 1.1, mark_iv=0.8)
    board[CALL.key] = plain[CALL.key] = moved
    _both(board, plain)
    board.pop(PUT.key)
    plain.pop(PUT.key)
    _both(board, plain)
    board.update({PUT.key: QUOTES[PUT.key]})
    plain.update({PUT.key: QUOTES[PUT.key]})
    _both(board, plain)
    assert set(board) == set(plain)


def test_the_board_grows_past_its_initial_capacity() -> None:
    """Hundreds of instruments get slots; each keeps its own inputs."""
    board = QuoteBoard()
    keys = [dataclasses.replace(PERP, symbol=f"X{i}-PERPETUAL").key for i in range(300)]
    for n, key in enumerate(keys):
        board[key] = dataclasses.replace(QUOTES[PERP.key], key=key, mark_price=1000.0 + n)
    slots = board.slots(keys)
    assert list(board.mark[slots]) == [1000.0 + n for n in range(300)]
    assert board.present[slots].all()
