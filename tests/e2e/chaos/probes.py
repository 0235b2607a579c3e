"""What the exchange and the journal say: the evidence the invariants are checked against.

Owns `ExchangeProbe` (the local exchange's own records, read in-process: Deribit's account
figures per currency, the request log's creates, the order registry and its trades, and
`Sample`s of the hedge over time) and `read_journal` (the daemon's SQLite journal, opened
read-only so it can be read while the daemon writes it). It must not change either.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from hedgebot.model.instruments import Kind
from hedgebot_localvenues.deribit.server import DeribitSimServer
from tests.e2e.chaos.rig import ACCOUNT, LIMITS

CREATE_METHODS = ("private/buy", "private/sell")


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """Deribit's own figures of one currency: equity + delta_total, and the perpetuals' delta
    (coin) and size (contract units: it changes only when we trade)."""

    residual: float
    perp: float
    perp_size: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """The account at one moment (seconds since the probe started)."""

    t: float
    figures: dict[str, Figures]


@dataclass(frozen=True, slots=True, kw_only=True)
class Create:
    """One create the exchange received."""

    seq: int
    label: str
    method: str
    outcome: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueOrder:
    """One of our orders as the exchange's registry holds it."""

    order_id: str
    label: str
    symbol: str
    created_ms: int
    updated_ms: int
    is_open: bool
    amount: float
    filled: float
    currency: str = ""
    coin: float = 0.0
    """Signed coin delta of the whole order at its limit price (+ buys)."""
    lot_coin: float = 0.0
    """Coin delta of one contract at that price (lot rounding)."""
    residual_at_create: float | None = None
    """The venue's equity + delta_total of `currency` when the create arrived (hedge − need)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueTrade:
    """One trade of ours on the exchange."""

    trade_id: str
    label: str
    amount: float


@dataclass(slots=True)
class ExchangeProbe:
    """Reads the in-process exchange; keeps the samples it takes."""

    server: DeribitSimServer
    samples: list[Sample] = field(default_factory=list)
    _started: float = field(default_factory=time.monotonic)

    async def figures(self) -> dict[str, Figures]:
        """Per hedged currency: equity + delta_total (0 = USD neutral) and the perps' delta."""
        state = self.server.state
        snapshot = await state.broker(ACCOUNT).snapshot()
        perps: dict[str, float] = {}
        sizes: dict[str, float] = {}
        for position in snapshot.positions:
            figures = state.position_figures(position)
            if figures is not None and figures.instrument.kind is Kind.PERPETUAL:
                code = figures.instrument.underlying
                perps[code] = perps.get(code, 0.0) + figures.delta
                sizes[code] = sizes.get(code, 0.0) + figures.size
        return {
            f.currency: Figures(
                residual=f.equity + f.delta_total,
                perp=perps.get(f.currency, 0.0),
                perp_size=sizes.get(f.currency, 0.0),
            )
            for f in state.account_figures(snapshot)
            if f.currency in LIMITS
        }

    async def sample(self) -> Sample:
        """Take and keep one sample."""
        taken = Sample(t=time.monotonic() - self._started, figures=await self.figures())
        self.samples.append(taken)
        return taken

    def creates(self) -> list[Create]:
        """Every create the exchange received, oldest first."""
        return [
            Create(
                seq=r.seq,
                label=r.details.get("label", ""),
                method=r.method,
                outcome=r.outcome,
            )
            for r in self.server.requests.order_entry_calls()
            if r.method in CREATE_METHODS
        ]

    def orders(self) -> list[VenueOrder]:
        """Our orders on the exchange, oldest first."""
        state = self.server.state
        result = []
        for o in state.registry.orders_of(ACCOUNT):
            instrument = o.instrument
            price = o.price if o.price > 0 else 1.0
            per_unit = 1 / price if instrument.amount_is_usd else 1.0
            currency = instrument.underlying
            result.append(
                VenueOrder(
                    order_id=o.order_id,
                    label=o.label,
                    symbol=instrument.symbol,
                    created_ms=o.created_ms,
                    updated_ms=o.updated_ms,
                    is_open=o.is_open,
                    amount=o.amount,
                    filled=o.filled_amount,
                    currency=currency,
                    coin=o.side.sign * o.amount * per_unit,
                    lot_coin=instrument.contract_size * per_unit,
                    residual_at_create=state.residual_at_create.get(o.order_id, {}).get(currency),
                )
            )
        return result

    def trades(self) -> list[VenueTrade]:
        """Our trades on the exchange, oldest first, each with its order's label."""
        registry = self.server.state.registry
        result = []
        for trade in registry.trades_of(ACCOUNT):
            order = registry.get(trade.order_id)
            label = order.label if order is not None else ""
            result.append(
                VenueTrade(trade_id=trade.fill.trade_id, label=label, amount=trade.fill.amount)
            )
        return result


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalOrder:
    """One order row of the journal."""

    client_id: str
    symbol: str
    state: str
    amount: float
    filled: float


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalFill:
    """One fill row of the journal."""

    trade_id: str
    client_id: str
    amount: float


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalView:
    """The journal's orders, fills and event counts."""

    orders: dict[str, JournalOrder]
    fills: list[JournalFill]
    events: dict[str, int]


EMPTY_JOURNAL = JournalView(orders={}, fills=[], events={})


def read_journal(path: Path) -> JournalView:
    """The journal as it is now (empty if the daemon has not created it yet)."""
    if not path.exists():
        return EMPTY_JOURNAL
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    try:
        orders = {
            r[0]: JournalOrder(client_id=r[0], symbol=r[1], state=r[2], amount=r[3], filled=r[4])
            for r in db.execute("SELECT client_id, symbol, state, amount, filled FROM orders")
        }
        fills = [
            JournalFill(trade_id=r[0], client_id=r[1], amount=r[2])
            for r in db.execute("SELECT trade_id, client_id, amount FROM fills")
        ]
        events = {
            str(r[0]): int(r[1])
            for r in db.execute("SELECT kind, COUNT(*) FROM events GROUP BY kind")
        }
    except sqlite3.OperationalError:  # schema not written yet
        return EMPTY_JOURNAL
    finally:
        db.close()
    return JournalView(orders=orders, fills=fills, events=events)
