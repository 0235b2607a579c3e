"""Deribit's view of orders and trades on top of the simulated brokers.

Deribit identifies orders by ``order_id`` and optional, non-unique labels, and edits an order in
place; hedgebot's `Broker` knows client ids only and has no amend. Owns `OrderRecord` (one
Deribit order: the request as sent plus the broker legs behind it — an edit cancels the live leg
and submits a new one under the same order id), `TradeRecord` (one fill with the market context
Deribit reports with it) and `OrderRegistry`, which maps between the two worlds and folds broker
`OrderUpdate`s and `Fill`s into Deribit state.

It must not talk to brokers or encode JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hedgebot.model.instruments import Instrument
from hedgebot.model.orders import Fill, OrderStatus, OrderUpdate, Side

_STATES = {
    OrderStatus.OPEN: "open",
    OrderStatus.PARTIALLY_FILLED: "open",
    OrderStatus.FILLED: "filled",
    OrderStatus.CANCELLED: "cancelled",
    OrderStatus.REJECTED: "rejected",
}


def deribit_state(status: OrderStatus) -> str:
    """Deribit's order_state for a hedgebot status (partly filled orders are "open")."""
    return _STATES[status]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRecord:
    """One Deribit order and the broker legs that carry it (latest last)."""

    order_id: str
    account: str
    instrument: Instrument
    label: str
    side: Side
    order_type: str
    """``limit`` or ``market``."""
    price: float
    """Limit price handed to the broker (market orders: the band edge)."""
    amount: float
    time_in_force: str
    post_only: bool
    reject_post_only: bool
    reduce_only: bool
    created_ms: int
    updated_ms: int
    submitted_ms: int
    """When the live leg was submitted: fills soon after it are taker fills."""
    legs: tuple[str, ...]
    leg_filled: tuple[float, ...]
    state: str = "open"
    replaced: bool = False
    cancel_reason: str = ""

    @property
    def live_leg(self) -> str:
        """Client id of the broker order currently carrying this order."""
        return self.legs[-1]

    @property
    def filled_amount(self) -> float:
        """Total filled over every leg."""
        return round(sum(self.leg_filled), 10)

    @property
    def is_open(self) -> bool:
        """True while the order can still fill."""
        return self.state == "open"


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeRecord:
    """One fill of one of our orders, with the context Deribit reports alongside."""

    fill: Fill
    order_id: str
    trade_seq: int
    liquidity: str
    """``T`` (taker: filled on arrival) or ``M`` (maker: filled while resting)."""
    mark_price: float
    index_price: float
    iv: float | None = None
    underlying_price: float | None = None


class OrderRegistry:
    """Every order placed through the local exchange, and their fills."""

    def __init__(self, *, first_order_id: int = 30_000_000_000) -> None:
        self._next_id = first_order_id
        self._orders: dict[str, OrderRecord] = {}
        self._leg_owner: dict[str, str] = {}
        self._trades: dict[str, TradeRecord] = {}
        self._trade_seq: dict[str, int] = {}

    def new_order_id(self) -> str:
        """A fresh Deribit order id."""
        self._next_id += 1
        return str(self._next_id)

    def leg_client_id(self, order_id: str, leg: int) -> str:
        """The broker client id of leg `leg` of an order."""
        return f"dsim-{order_id}-{leg}"

    def register(self, record: OrderRecord) -> None:
        """Track a new order (before its first leg is submitted, so early fills are caught)."""
        self._orders[record.order_id] = record
        for leg in record.legs:
            self._leg_owner[leg] = record.order_id

    def store(self, record: OrderRecord) -> OrderRecord:
        """Replace the stored state of an order; returns it."""
        self.register(record)
        return record

    def discard(self, order_id: str) -> None:
        """Forget an order the venue refused (Deribit keeps no trace of rejected requests)."""
        record = self._orders.pop(order_id, None)
        if record is not None:
            for leg in record.legs:
                self._leg_owner.pop(leg, None)

    def get(self, order_id: str) -> OrderRecord | None:
        """An order by id."""
        return self._orders.get(order_id)

    def owner_of(self, client_id: str) -> OrderRecord | None:
        """The order a broker leg belongs to."""
        order_id = self._leg_owner.get(client_id)
        return None if order_id is None else self._orders.get(order_id)

    def orders_of(self, account: str) -> list[OrderRecord]:
        """Every order of an account, oldest first."""
        return [o for o in self._orders.values() if o.account == account]

    def by_label(self, account: str, label: str) -> list[OrderRecord]:
        """Orders of an account carrying `label`, oldest first."""
        return [o for o in self.orders_of(account) if o.label == label]

    def apply_update(self, update: OrderUpdate) -> OrderRecord | None:
        """Fold a broker update into its order; None if the leg is not ours."""
        record = self.owner_of(update.client_id)
        if record is None:
            return None
        index = record.legs.index(update.client_id)
        filled = list(record.leg_filled)
        filled[index] = max(filled[index], update.filled_amount)
        changed = replace(
            record,
            leg_filled=tuple(filled),
            updated_ms=max(record.updated_ms, update.timestamp_ms),
        )
        if update.client_id == record.live_leg and record.state == "open":
            changed = replace(changed, state=deribit_state(update.status))
        return self.store(changed)

    def apply_fill(
        self,
        fill: Fill,
        *,
        liquidity: str,
        mark_price: float,
        index_price: float,
        iv: float | None = None,
        underlying_price: float | None = None,
    ) -> TradeRecord | None:
        """Record a fill once; None if it is a duplicate or not ours."""
        if fill.trade_id in self._trades:
            return None
        record = self.owner_of(fill.client_id)
        if record is None:
            return None
        seq = self._trade_seq.get(fill.key.symbol, 0) + 1
        self._trade_seq[fill.key.symbol] = seq
        trade = TradeRecord(
            fill=fill,
            order_id=record.order_id,
            trade_seq=seq,
            liquidity=liquidity,
            mark_price=mark_price,
            index_price=index_price,
            iv=iv,
            underlying_price=underlying_price,
        )
        self._trades[fill.trade_id] = trade
        return trade

    def trade(self, trade_id: str) -> TradeRecord | None:
        """A recorded fill by trade id."""
        return self._trades.get(trade_id)

    def trades_of_order(self, order_id: str) -> list[TradeRecord]:
        """Fills of one order, oldest first."""
        return [t for t in self._trades.values() if t.order_id == order_id]

    def trades_of(self, account: str) -> list[TradeRecord]:
        """Fills of an account, oldest first."""
        return [t for t in self._trades.values() if t.fill.account == account]

    def average_price(self, record: OrderRecord) -> float:
        """Average fill price over every leg (the limit price while fills are still in flight)."""
        trades = self.trades_of_order(record.order_id)
        amount = sum(t.fill.amount for t in trades)
        if amount <= 0:
            return record.price if record.filled_amount > 0 else 0.0
        return sum(t.fill.amount * t.fill.price for t in trades) / amount

    def commission(self, record: OrderRecord) -> float:
        """Fees paid over every fill of an order."""
        return sum(t.fill.fee for t in self.trades_of_order(record.order_id))
