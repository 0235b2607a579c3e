"""The operator's terminal view: per underlying, net delta against the band, hedge position,
last decision and trading state; per account and margin currency, MM/equity and headroom. Every
amount carries its unit (coin, USD face, USD, the margin currency).

On a terminal it is a `rich` live view redrawn in place every few seconds, with log lines
scrolling above it; otherwise (JSON logs) one log line per underlying (``status.underlying``)
and per account (``status.account``). `render` builds the view of one turn; `render_text` prints
it as plain text (what the README shows).

Pacing is display-only and uses real elapsed time (time.monotonic), not trading time. It must
not compute risk: it shows the `TurnView` the engine made.
"""

from __future__ import annotations

import datetime as dt
import io
import time

import structlog
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from hedgebot.model.trading import TradingState
from hedgebot.model.view import TurnView, UnderlyingView

log = structlog.get_logger("hedgebot.status")


class ConsoleStatus:
    """A `TurnObserver` that shows the book to the operator at a bounded rate."""

    def __init__(self, *, interval_s: float, table: bool, console: Console | None = None) -> None:
        self._interval = interval_s
        self._table = table
        self._console = console
        self._next = 0.0
        self._live: Live | None = None
        self._last: TurnView | None = None

    def on_turn(self, view: TurnView) -> None:
        """Render when the display interval has passed."""
        self._last = view
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._interval
        if self._table:
            self._show(view)
        else:
            _log_view(view)

    def _show(self, view: TurnView) -> None:
        if self._live is None:
            self._live = Live(
                render(view),
                console=self._console or Console(),
                auto_refresh=False,
                redirect_stdout=True,
                redirect_stderr=True,
                transient=False,
            )
            self._live.start()
        self._live.update(render(view), refresh=True)

    def close(self) -> None:
        """Leave the last view on screen and give the terminal back (at shutdown)."""
        if self._live is not None:
            if self._last is not None:
                self._live.update(render(self._last), refresh=True)
            self._live.stop()
            self._live.console.line()
            self._live = None


def _log_view(view: TurnView) -> None:
    for name, row in view.underlyings.items():
        log.info(
            "status.underlying",
            underlying=name,
            price_usd=round(row.price, 2),
            net_delta_coin=round(row.net_delta, 6),
            target_coin=row.target,
            band_coin=round(row.band, 6),
            hedge_position=round(row.hedge_position, 6),
            hedge_position_unit=row.hedge_position_unit,
            hedges=row.hedge_orders,
            fills=row.fills,
            trading=row.trading,
        )
    for account in view.accounts:
        log.info(
            "status.account",
            account=account.account,
            currency=account.currency,
            equity=round(account.equity, 6),
            maintenance_ratio=round(account.maintenance_ratio, 4),
            available=round(account.available, 6),
        )


def headline(view: TurnView) -> str:
    """Mode, time, trading state with its reason, origin and time, decision latency."""
    moment = _utc(view.now_ms)
    state = view.trading_state.upper()
    if view.trading_state is not TradingState.ACTIVE and view.trading_reason:
        since = f", since {_utc(view.trading_since_ms)}" if view.trading_since_ms else ""
        state += f" ({view.trading_origin}: {view.trading_reason}{since})"
    return (
        f"hedgebot {view.mode} · {moment} UTC · trading {state}"
        f" · decision {view.decision_latency_s * 1e3:.2f} ms"
    )


def _utc(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _position(row: UnderlyingView) -> str:
    if row.hedge_position_unit == "coin":
        return f"{row.hedge_position:+,.4f} coin"
    return (
        f"{row.hedge_position:+,.0f} {row.hedge_position_unit} "
        f"({row.hedge_position_coin:+,.2f} coin)"
    )


def render(view: TurnView) -> Group:
    """The view of one turn: a headline, the underlyings, their last decisions, the accounts."""
    books = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    books.add_column("underlying", no_wrap=True)
    books.add_column("price USD", justify="right", no_wrap=True)
    books.add_column("net Δ coin", justify="right", no_wrap=True)
    books.add_column("target±band coin", justify="right", no_wrap=True)
    books.add_column("hedge position", justify="right", no_wrap=True)
    books.add_column("hedges/fills", justify="right", no_wrap=True)
    books.add_column("state", no_wrap=True)
    for name, row in view.underlyings.items():
        valued = row.price > 0
        outside = valued and row.outside_band
        delta = Text(f"{row.net_delta:+,.4f}", style="bold red" if outside else "")
        books.add_row(
            name,
            f"{row.price:,.2f}" if valued else "-",
            delta if valued else Text("-"),
            f"{row.target:+.2f}±{row.band:.4f}" if valued else "-",
            _position(row),
            f"{row.hedge_orders}/{row.fills}",
            row.trading + (" OUTSIDE" if outside else ""),
        )
    decisions = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True, expand=True
    )
    decisions.add_column("underlying", no_wrap=True)
    decisions.add_column("last decision (coin)", ratio=1, overflow="ellipsis", no_wrap=True)
    for name, row in view.underlyings.items():
        decisions.add_row(name, row.decision)
    margins = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    margins.add_column("account", no_wrap=True)
    margins.add_column("equity", justify="right", no_wrap=True)
    margins.add_column("MM/equity", justify="right", no_wrap=True)
    margins.add_column("headroom (equity − IM)", justify="right", no_wrap=True)
    for account in view.accounts:
        ccy = account.currency
        margins.add_row(
            f"{account.account}/{ccy}",
            f"{account.equity:,.4f} {ccy}",
            f"{account.maintenance_ratio:.1%}",
            f"{account.available:,.4f} {ccy}",
        )
    return Group(Text(headline(view), style="bold"), books, decisions, margins)


def render_text(view: TurnView, *, width: int = 120) -> str:
    """The view as plain text (no colours), `width` columns wide."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False)
    console.print(render(view))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())


__all__ = ["ConsoleStatus", "headline", "render", "render_text"]
