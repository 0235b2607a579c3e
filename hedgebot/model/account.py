"""Account state as frozen values: positions, collateral and margin of one account on one venue.

Owns `Position`, `MarginState` and `AccountSnapshot`. Amounts follow `hedgebot.model.instruments`
(coin, or USD face for inverse perpetuals/futures). It must not compute deltas (see `units`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from hedgebot.model.instruments import InstrumentKey


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """A signed position: positive is long. `amount` is in the instrument's amount unit."""

    account: str
    key: InstrumentKey
    amount: float
    average_price: float = 0.0
    venue_delta: float | None = None
    """The venue's own coin delta of this position where it reports one (Deribit `delta`)."""
    size_coin: float | None = None
    """The venue's second, independent size figure, in coin, where it gives one (Deribit
    `size_currency`); checked against `amount` by `hedgebot.core.size_check`."""
    size_field: str = ""
    """The venue field `size_coin` came from (named in the hold reason)."""

    def __post_init__(self) -> None:
        if not math.isfinite(self.amount):
            raise ValueError(f"{self.key}: position amount must be finite")


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginState:
    """Margin of one account in its margin currency (coin for Deribit coin accounts, else USD)."""

    currency: str
    equity: float
    initial_margin: float
    maintenance_margin: float

    @property
    def available(self) -> float:
        """Equity not tied up by initial margin."""
        return self.equity - self.initial_margin

    @property
    def maintenance_ratio(self) -> float:
        """MM / equity: liquidation starts at 1.0. Infinite for non-positive equity."""
        if self.equity <= 0:
            return math.inf
        return self.maintenance_margin / self.equity


class SnapshotPart(StrEnum):
    """The separately read parts of an account snapshot (one venue request, or group, each)."""

    POSITIONS = "positions"
    FUNDS = "funds"
    """Collateral, coin equity and margin (Deribit `get_account_summaries`, ccxt balance)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSnapshot:
    """Everything known about one account, read by one or more venue requests.

    `timestamp_ms` is when the last part's answer arrived; `read_started_ms` holds, per part, the
    local time its request was *sent* (a part is known to contain every fill that was known before
    then). A part without a stamp was read atomically at `timestamp_ms` (simulator, tests).
    """

    account: str
    venue: str
    timestamp_ms: int
    positions: tuple[Position, ...] = ()
    collateral: dict[str, float] = field(default_factory=dict)
    """Coin balances by currency (e.g. {"BTC": 2.0}); counted as delta where the account says so."""
    margin: tuple[MarginState, ...] = ()
    read_started_ms: dict[SnapshotPart, int] = field(default_factory=dict)

    def part_read_ms(self, part: SnapshotPart) -> int:
        """When the request for `part` was sent (`timestamp_ms` if it was not stamped)."""
        return self.read_started_ms.get(part, self.timestamp_ms)

    def oldest_read_ms(self, parts: tuple[SnapshotPart, ...] = tuple(SnapshotPart)) -> int:
        """The earliest read-start over `parts`: the snapshot contains what was known before."""
        return min(self.part_read_ms(part) for part in parts)
