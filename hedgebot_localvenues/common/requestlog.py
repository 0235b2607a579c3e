"""The log of every request a local exchange answered (or chose not to answer).

Owns `Request` and `RequestLog`. Tests read it to prove, for instance, that paper mode never
called a private endpoint, or that each client order id was sent once. Only the parameters named
in `SAFE_PARAMS` are kept: signatures, keys and listen keys never enter the log.

It must not decide anything about the requests it records.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SAFE_PARAMS = (
    "symbol",
    "side",
    "positionSide",
    "type",
    "quantity",
    "price",
    "reduceOnly",
    "newClientOrderId",
    "origClientOrderId",
    "orderId",
    "timeInForce",
    "orderLinkId",
    "positionIdx",
    "qty",
    "category",
    "instId",
    "clOrdId",
    "ordId",
    "sz",
    "px",
    "tdMode",
    "posSide",
    "ordType",
)


@dataclass(frozen=True, slots=True)
class Request:
    """One request: method, path, whether it was signed, its safe parameters, the outcome."""

    method: str
    path: str
    private: bool
    params: Mapping[str, Any] = field(default_factory=dict)
    outcome: str = "answered"


class RequestLog:
    """The most recent requests (bounded)."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._records: deque[Request] = deque(maxlen=capacity)

    def record(
        self,
        method: str,
        path: str,
        *,
        private: bool,
        params: Mapping[str, Any],
        outcome: str = "answered",
    ) -> None:
        """Remember one request, keeping only the safe parameters."""
        safe = {k: params[k] for k in SAFE_PARAMS if k in params}
        self._records.append(Request(method, path, private, safe, outcome))

    def all(self) -> list[Request]:
        """Every record, oldest first."""
        return list(self._records)

    def paths(self) -> list[str]:
        """The path of every record, oldest first."""
        return [r.path for r in self._records]

    def order_creates(self) -> list[Request]:
        """Every order placement that reached the server (answered or not): Binance's
        ``POST /fapi/v1/order``, Bybit's ``POST /v5/order/create``, OKX's
        ``POST /api/v5/trade/order`` and each order of ``/api/v5/trade/batch-orders``."""
        return [
            r
            for r in self._records
            if r.method == "POST"
            and r.path.endswith(
                ("/fapi/v1/order", "/order/create", "/trade/order", "/trade/batch-orders")
            )
        ]

    def client_ids(self) -> list[str]:
        """The client order id of every placement, in order (``newClientOrderId`` /
        ``orderLinkId`` / ``clOrdId``)."""
        return [
            str(
                r.params.get("newClientOrderId")
                or r.params.get("orderLinkId")
                or r.params.get("clOrdId")
                or ""
            )
            for r in self.order_creates()
        ]
