"""Deribit's JSON-RPC envelope: result and error frames, error codes, and request parameters.

Owns `RpcError` (a Deribit error with its real numeric code, so ccxt maps it to the right
exception class), the response envelopes (``usIn``/``usOut``/``usDiff``/``testnet`` like the
real venue), and the typed readers of request parameters, which accept both the strings of an
HTTP query and the JSON values of a websocket frame.

It must not know about accounts, orders or transports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

JsonDict = dict[str, Any]

# Codes Deribit answers with (ccxt 4.5.90 `deribit.exceptions` maps them, see docs/venues.md).
QTY_TOO_LOW = 10002
ORDER_NOT_FOUND = 10004
PRICE_TOO_LOW = 10005
PRICE_TOO_HIGH = 10007
NOT_ENOUGH_FUNDS = 10009
INVALID_INSTRUMENT = 10020
INVALID_AMOUNT = 10021
TOO_MANY_REQUESTS = 10028
NOT_OWNER_OF_ORDER = 10029
PRICE_WRONG_TICK = 10043
ALREADY_FILLED = 11008
OTHER_REJECT = 11030
NOT_OPEN_ORDER = 11044
POST_ONLY_REJECT = 11054
INVALID_CREDENTIALS = 13004
UNAUTHORIZED = 13009
FORBIDDEN = 13021
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
PARSE_ERROR = -32700

ERROR_MESSAGES: Mapping[int, str] = {
    QTY_TOO_LOW: "qty_too_low",
    ORDER_NOT_FOUND: "order_not_found",
    PRICE_TOO_LOW: "price_too_low",
    PRICE_TOO_HIGH: "price_too_high",
    NOT_ENOUGH_FUNDS: "not_enough_funds",
    INVALID_INSTRUMENT: "invalid_or_unsupported_instrument",
    INVALID_AMOUNT: "invalid_amount",
    TOO_MANY_REQUESTS: "too_many_requests",
    NOT_OWNER_OF_ORDER: "not_owner_of_order",
    PRICE_WRONG_TICK: "price_wrong_tick",
    ALREADY_FILLED: "already_filled",
    OTHER_REJECT: "other_reject",
    NOT_OPEN_ORDER: "not_open_order",
    POST_ONLY_REJECT: "post_only_reject",
    INVALID_CREDENTIALS: "invalid_credentials",
    UNAUTHORIZED: "unauthorized",
    FORBIDDEN: "forbidden",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    PARSE_ERROR: "Parse error",
}


class RpcError(Exception):
    """A Deribit JSON-RPC error: numeric code, Deribit's message, optional ``data``."""

    def __init__(self, code: int, message: str | None = None, *, data: JsonDict | None = None):
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, "error")
        self.data = data
        super().__init__(f"{code} {self.message}")

    def as_json(self) -> JsonDict:
        """The ``error`` member of a response."""
        error: JsonDict = {"message": self.message, "code": self.code}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_param(param: str, reason: str) -> RpcError:
    """Deribit's answer to a missing or malformed parameter."""
    return RpcError(INVALID_PARAMS, data={"reason": reason, "param": param})


def result_frame(request_id: Any, result: Any, *, received_us: int, sent_us: int) -> JsonDict:
    """A successful response, shaped like Deribit's."""
    frame: JsonDict = {"jsonrpc": "2.0"}
    if request_id is not None:
        frame["id"] = request_id
    frame["result"] = result
    frame.update(_timing(received_us, sent_us))
    return frame


def error_frame(request_id: Any, error: RpcError, *, received_us: int, sent_us: int) -> JsonDict:
    """An error response, shaped like Deribit's."""
    frame: JsonDict = {"jsonrpc": "2.0"}
    if request_id is not None:
        frame["id"] = request_id
    frame["error"] = error.as_json()
    frame.update(_timing(received_us, sent_us))
    return frame


def notification(channel: str, data: Any) -> JsonDict:
    """A subscription notification: ``{"method": "subscription", "params": {channel, data}}``."""
    return {
        "jsonrpc": "2.0",
        "method": "subscription",
        "params": {"channel": channel, "data": data},
    }


def _timing(received_us: int, sent_us: int) -> JsonDict:
    return {
        "usIn": received_us,
        "usOut": sent_us,
        "usDiff": sent_us - received_us,
        "testnet": True,
    }


class Params:
    """Typed access to the parameters of one call (query strings or JSON values)."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = dict(raw)

    def text(self, name: str, default: str | None = None) -> str:
        """A required string (or `default` when absent)."""
        value = self.raw.get(name)
        if value is None:
            if default is None:
                raise invalid_param(name, "value required")
            return default
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise invalid_param(name, "must be a string")
        return str(value)

    def optional_text(self, name: str) -> str | None:
        """A string, or None when absent."""
        return None if self.raw.get(name) is None else self.text(name)

    def number(self, name: str, default: float | None = None) -> float:
        """A required finite number (or `default` when absent)."""
        value = self.raw.get(name)
        if value is None:
            if default is None:
                raise invalid_param(name, "value required")
            return default
        if isinstance(value, bool):
            raise invalid_param(name, "must be a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise invalid_param(name, "must be a number") from None
        if not math.isfinite(number):
            raise invalid_param(name, "must be finite")
        return number

    def optional_number(self, name: str) -> float | None:
        """A number, or None when absent."""
        return None if self.raw.get(name) is None else self.number(name)

    def integer(self, name: str, default: int) -> int:
        """An integer, `default` when absent."""
        value = self.raw.get(name)
        if value is None:
            return default
        number = self.number(name)
        if number != int(number):
            raise invalid_param(name, "must be an integer")
        return int(number)

    def optional_integer(self, name: str) -> int | None:
        """An integer, or None when absent."""
        return None if self.raw.get(name) is None else self.integer(name, 0)

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean: JSON true/false or the strings "true"/"false"."""
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise invalid_param(name, "must be a boolean")

    def text_list(self, name: str) -> list[str]:
        """A required list of strings (websocket ``channels``)."""
        value = self.raw.get(name)
        if isinstance(value, str):
            return [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise invalid_param(name, "must be a list of strings")
        return list(value)
