"""The log of every JSON-RPC call the local Deribit exchange answered (or chose not to answer).

Owns `RequestRecord` and `RequestLog`, which tests and operators read (programmatically or via
``GET /_sim/requests``) to prove, for instance, that paper mode never called an order endpoint.
Only whitelisted parameters are kept (`SAFE_PARAMS`): the log must never hold secrets
(client_secret, signatures, tokens).

It must not decide anything about the calls it records.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Transport = Literal["http", "ws"]

ORDER_ENTRY_METHODS = frozenset(
    {
        "private/buy",
        "private/sell",
        "private/edit",
        "private/edit_by_label",
        "private/cancel",
        "private/cancel_all",
        "private/cancel_all_by_currency",
        "private/cancel_all_by_instrument",
        "private/cancel_by_label",
        "private/close_position",
    }
)
"""Methods that place, change or cancel orders."""

SAFE_PARAMS = (
    "instrument_name",
    "label",
    "amount",
    "price",
    "type",
    "order_id",
    "currency",
    "kind",
    "reduce_only",
    "post_only",
    "time_in_force",
    "grant_type",
    "channels",
)
"""Parameters worth keeping in the log; nothing else is recorded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestRecord:
    """One call: when (simulated exchange time), how, by whom, and how it ended."""

    seq: int
    transport: Transport
    method: str
    """``scope/name`` as Deribit spells it, e.g. ``private/buy``."""
    account: str | None
    """The account the call was authenticated as; None for anonymous calls."""
    timestamp_ms: int
    outcome: str
    """``ok``, ``error:<code>`` or ``lost`` (executed, answer withheld)."""
    details: Mapping[str, str] = field(default_factory=dict)
    """The call's `SAFE_PARAMS`, as text."""

    @property
    def scope(self) -> str:
        """``public`` or ``private``."""
        return self.method.split("/", 1)[0]

    @property
    def is_order_entry(self) -> bool:
        """True for calls that place, change or cancel orders."""
        return self.method in ORDER_ENTRY_METHODS

    def as_json(self) -> dict[str, Any]:
        """The record as plain JSON data."""
        data = asdict(self)
        data["details"] = dict(self.details)
        return data


class RequestLog:
    """Append-only log of calls, numbered from 1; only the newest `capacity` are kept."""

    def __init__(self, *, capacity: int = 100_000) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=capacity)
        self._next_seq = 1

    def record(
        self,
        *,
        transport: Transport,
        method: str,
        account: str | None,
        timestamp_ms: int,
        outcome: str,
        params: Mapping[str, Any] | None = None,
    ) -> RequestRecord:
        """Append one call (of its `params`, only the `SAFE_PARAMS` are kept)."""
        params = params or {}
        entry = RequestRecord(
            seq=self._next_seq,
            transport=transport,
            method=method,
            account=account,
            timestamp_ms=timestamp_ms,
            outcome=outcome,
            details={k: _text(params[k]) for k in SAFE_PARAMS if params.get(k) is not None},
        )
        self._next_seq += 1
        self._records.append(entry)
        return entry

    def entries(self, *, since_seq: int = 0) -> tuple[RequestRecord, ...]:
        """Every record with a sequence number above `since_seq`, oldest first."""
        return tuple(r for r in self._records if r.seq > since_seq)

    def methods(self) -> tuple[str, ...]:
        """The method of every record, oldest first."""
        return tuple(r.method for r in self._records)

    def order_entry_calls(self) -> tuple[RequestRecord, ...]:
        """Every call that tried to place, change or cancel an order."""
        return tuple(r for r in self._records if r.is_order_entry)

    def clear(self) -> None:
        """Forget every record (sequence numbers keep increasing)."""
        self._records.clear()

    def __len__(self) -> int:
        return len(self._records)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)
