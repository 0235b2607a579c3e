"""The terminal view: units on every amount, redrawn in place on a terminal, and the README's
capture has today's layout."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

from rich.console import Console

from hedgebot.model.trading import TradingOrigin, TradingState
from hedgebot.operator.console import ConsoleStatus, render_text
from tests.operator.test_http_api import book_view

ROOT = Path(__file__).resolve().parents[2]


def _inverse_view() -> object:
    view = book_view()
    btc = dataclasses.replace(
        view.underlyings["BTC"],
        hedge_position=-660_230.0,
        hedge_position_unit="USD face",
        hedge_position_coin=-11.0027,
    )
    return dataclasses.replace(view, underlyings={**view.underlyings, "BTC": btc})


def test_every_amount_has_its_unit_and_nothing_is_cut_at_120_columns() -> None:
    text = render_text(_inverse_view(), width=120)  # type: ignore[arg-type]
    assert "…" not in text
    assert "-660,230 USD face (-11.00 coin)" in text
    assert "net Δ coin" in text
    assert "target±band coin" in text
    assert "price USD" in text
    assert "2.5000 BTC" in text  # equity in the margin currency
    assert "1.7500 BTC" in text  # headroom, equity − IM
    assert "12.5%" in text


def test_a_halt_shows_its_reason_origin_and_time() -> None:
    view = dataclasses.replace(
        book_view(),
        trading_state=TradingState.HALTED,
        trading_reason="maintenance",
        trading_origin=TradingOrigin.OPERATOR,
        trading_since_ms=book_view().now_ms,
    )
    first = render_text(view).splitlines()[0]
    assert "trading HALTED (operator: maintenance, since 2026-03-02 00:00:00)" in first


def test_on_a_terminal_the_view_is_redrawn_in_place() -> None:
    """The second render moves the cursor back up over the first instead of printing a new
    block below it."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    status = ConsoleStatus(interval_s=0.0, table=True, console=console)
    status.on_turn(book_view())
    first = buffer.getvalue()
    status.on_turn(dataclasses.replace(book_view(), now_ms=book_view().now_ms + 1000))
    status.close()
    second = buffer.getvalue()[len(first) :]
    assert "\x1b[1A" in second or re.search(r"\x1b\[\d+A", second), repr(second[:200])
    assert "00:00:01 UTC" in second


def test_the_readme_capture_has_the_current_layout() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    capture = readme[readme.index("  hedgebot paper · ") :]
    capture = capture[: capture.index("  ```")]
    shown = [line.split() for line in capture.splitlines()]
    rendered = [line.split() for line in render_text(book_view(), width=120).splitlines()]
    headers = [words for words in rendered if words[:1] in (["underlying"], ["account"])]
    assert len(headers) == 3
    for header in headers:
        assert header in shown, f"README capture lacks the header {' '.join(header)!r}"
