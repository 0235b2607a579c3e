"""Orders as frozen values: what hedgebot asks a venue to do, and what the venue says back.

Owns `OrderRequest`, `OrderUpdate`, `Fill` and `OrderStatus`. Amounts are unsigned in the
instrument's amount unit; `side` carries the sign. The order lifecycle state machine lives in
`hedgebot.core.lifecycle`; this module only names the statuses venues report.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hedgebot.model.instruments import InstrumentKey


class Side(StrEnum):
    """Buy or sell."""

    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return 1 if self is Side.BUY else -1

    @staticmethod
    def of(signed_amount: float) -> Side:
        """The side that moves a position by `signed_amount`."""
        return Side.BUY if signed_amount > 0 else Side.SELL


class OrderStatus(StrEnum):
    """What a venue reports about an order."""

    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        """True once the venue will never fill the order any further."""
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """A limit order hedgebot wants placed. `client_id` is unique per order intent."""

    client_id: str
    account: str
    key: InstrumentKey
    side: Side
    amount: float
    limit_price: float
    reduce_only: bool = False

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(f"{self.client_id}: order amount must be positive")
        if self.limit_price <= 0:
            raise ValueError(f"{self.client_id}: limit price must be positive")


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUpdate:
    """The venue's view of one order, identified by hedgebot's client id."""

    client_id: str
    venue_order_id: str
    key: InstrumentKey
    status: OrderStatus
    filled_amount: float
    timestamp_ms: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One execution. `trade_id` is the venue's id, unique per venue: fills are applied once."""

    trade_id: str
    client_id: str
    account: str
    key: InstrumentKey
    side: Side
    amount: float
    price: float
    fee: float
    fee_currency: str
    timestamp_ms: int

    @property
    def signed_amount(self) -> float:
        """Amount with the side's sign: how the position changed."""
        return self.side.sign * self.amount
