"""The operator's terminal view: every few seconds, per underlying, price, net delta, band,
margin headroom, hedges sent and filled. On a terminal it prints a table; otherwise one JSON log
line per underlying (``status.underlying``) and per account (``status.account``).

Pacing is display-only and uses real elapsed time (time.monotonic), not trading time.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from typing import TextIO

import structlog

from hedgebot.model.view import TurnView

log = structlog.get_logger("hedgebot.status")


class ConsoleStatus:
    """A `TurnObserver` that shows the book to the operator at a bounded rate."""

    def __init__(self, *, interval_s: float, table: bool, stream: TextIO | None = None) -> None:
        self._interval = interval_s
        self._table = table
        self._stream = stream or sys.stdout
        self._next = 0.0

    def on_turn(self, view: TurnView) -> None:
        """Render when the display interval has passed."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._interval
        if self._table:
            self._stream.write(render_table(view) + "\n")
            self._stream.flush()
        else:
            for name, row in view.underlyings.items():
                log.info(
                    "status.underlying",
                    underlying=name,
                    price=round(row.price, 2),
                    net_delta=round(row.net_delta, 6),
                    target=row.target,
                    band=round(row.band, 6),
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


def render_table(view: TurnView) -> str:
    """A fixed-width table of the book."""
    moment = dt.datetime.fromtimestamp(view.now_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    lines = [
        f"hedgebot {view.mode} · {moment} UTC · trading {view.trading_state}"
        f" · decision {view.decision_latency_s * 1e3:.2f} ms",
        f"{'underlying':<10} {'price':>11} {'net delta':>11} {'band':>15} {'hedges':>7}"
        f" {'fills':>6}  state",
    ]
    for name, row in view.underlyings.items():
        band = f"{row.target:+.2f}±{row.band:.3f}"
        flag = " OUTSIDE" if row.outside_band and row.price > 0 else ""
        lines.append(
            f"{name:<10} {row.price:>11.2f} {row.net_delta:>+11.4f} {band:>15} "
            f"{row.hedge_orders:>7} {row.fills:>6}  {row.trading}{flag}"
        )
    for account in view.accounts:
        lines.append(
            f"  account {account.account}/{account.currency}: equity {account.equity:.4f}"
            f"  IM {account.initial_margin:.4f}  MM {account.maintenance_margin:.4f}"
            f"  MM/equity {account.maintenance_ratio:.1%}  available {account.available:.4f}"
        )
    return "\n".join(lines)
