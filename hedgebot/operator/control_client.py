"""Client side of the operator endpoint, for the CLI: fetch /status, print it, send control.

Owns `fetch_status`, `render_status_table`, `send_control` and `ControlError`. It uses only the
standard library (urllib), so `hedgebot status` starts fast; the calls are blocking, as a CLI
wants. It must not import aiohttp, apprise or ccxt, and it must never print the control token.
The shape of /status is `hedgebot.model.view.TurnView.to_dict()`; missing fields print as `-`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Final, Literal, Protocol

__all__ = [
    "CONTROL_ACTIONS",
    "ControlAction",
    "ControlError",
    "SecretLike",
    "fetch_status",
    "render_status_table",
    "send_control",
]

ControlAction = Literal["halt", "resume", "flatten-hedges"]
CONTROL_ACTIONS: Final[tuple[ControlAction, ...]] = ("halt", "resume", "flatten-hedges")


class SecretLike(Protocol):
    """A pydantic `SecretStr` or anything else that hides its value until asked."""

    def get_secret_value(self) -> str: ...


class ControlError(Exception):
    """The endpoint could not be reached or refused the request; the message says which."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def fetch_status(url: str, *, timeout_s: float = 5.0) -> dict[str, object]:
    """GET `<url>/status` (url is the base, e.g. `http://127.0.0.1:9102`) and decode it."""
    document = _request(urllib.request.Request(_join(url, "/status")), timeout_s)
    if not isinstance(document, dict):
        raise ControlError("/status did not return a JSON object")
    return document


def send_control(
    url: str,
    action: ControlAction,
    token: SecretLike | str,
    *,
    reason: str | None = None,
    timeout_s: float = 10.0,
) -> str:
    """POST `<url>/control/<action>` with the bearer token; return the server's message."""
    if action not in CONTROL_ACTIONS:
        raise ControlError(
            f"unknown control action {action!r}; one of {', '.join(CONTROL_ACTIONS)}"
        )
    secret = token if isinstance(token, str) else token.get_secret_value()
    body = json.dumps({"reason": reason} if reason else {}).encode()
    request = urllib.request.Request(
        _join(url, f"/control/{action}"),
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    answer = _request(request, timeout_s)
    message = answer.get("message") if isinstance(answer, dict) else None
    return str(message) if message is not None else json.dumps(answer)


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + path


def _request(request: urllib.request.Request, timeout_s: float) -> object:
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            payload: bytes = response.read()
    except urllib.error.HTTPError as exc:
        raise ControlError(_http_error_text(exc), status=exc.code) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ControlError(f"cannot reach {request.full_url}: {reason}") from None
    try:
        return json.loads(payload)
    except ValueError:
        raise ControlError(f"{request.full_url} did not answer JSON") from None


def _http_error_text(exc: urllib.error.HTTPError) -> str:
    try:
        detail = json.loads(exc.read()).get("error", "")
    except (ValueError, AttributeError, OSError):
        detail = ""
    hints = {401: "a control token is required", 403: "control refused (wrong or no token)"}
    text = f"HTTP {exc.code}: {detail or hints.get(exc.code, exc.reason)}"
    return text if exc.code not in hints or not detail else f"{text} ({hints[exc.code]})"


# --- the status table ---------------------------------------------------------------------

Column = tuple[str, str, int]
"""Header, field of the /status row, width (the first column is the row's name, left-aligned)."""

_UNDERLYING_COLUMNS: Final[tuple[Column, ...]] = (
    ("UNDERLYING", "", 12),
    ("PRICE", "price", 12),
    ("NET DELTA", "net_delta", 11),
    ("TARGET", "target", 10),
    ("BAND", "band", 9),
    ("HEDGES", "hedge_orders", 7),
    ("FILLS", "fills", 7),
    ("  TRADING", "trading", 0),
)
_ACCOUNT_COLUMNS: Final[tuple[Column, ...]] = (
    ("ACCOUNT", "", 16),
    ("CCY", "currency", 5),
    ("EQUITY", "equity", 14),
    ("MM RATIO", "maintenance_ratio", 9),
    ("HEADROOM", "available", 14),
)
_FORMATS: Final = {
    "price": "{:,.2f}",
    "net_delta": "{:+.4f}",
    "target": "{:+.4f}",
    "band": "{:.4f}",
    "hedge_orders": "{:d}",
    "fills": "{:d}",
    "equity": "{:,.4f}",
    "maintenance_ratio": "{:.1%}",
    "available": "{:,.4f}",
}


def render_status_table(status: Mapping[str, object]) -> str:
    """A fixed-width table: one row per underlying, then one per account and margin currency."""
    lines = [_headline(status), ""]
    underlyings = status.get("underlyings")
    rows = underlyings if isinstance(underlyings, Mapping) else {}
    lines.extend(_table([(str(name), rows[name]) for name in sorted(rows)], _UNDERLYING_COLUMNS))
    lines.append("")
    accounts = status.get("accounts")
    listed = accounts if isinstance(accounts, list) else []
    named = [(str(_field(a, "account") or "-"), a) for a in listed]
    lines.extend(_table(named, _ACCOUNT_COLUMNS))
    return "\n".join(lines)


def _headline(status: Mapping[str, object]) -> str:
    parts = [f"trading state: {status.get('trading_state', '-')}"]
    if "mode" in status:
        parts.append(f"mode: {status['mode']}")
    now_ms = status.get("now_ms")
    if isinstance(now_ms, int):
        moment = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC)
        parts.append(f"as of {moment:%Y-%m-%d %H:%M:%S} UTC")
    return "   ".join(parts)


def _field(row: object, key: str) -> object:
    return row.get(key) if isinstance(row, Mapping) else None


def _table(rows: list[tuple[str, object]], columns: tuple[Column, ...]) -> list[str]:
    out = [_row([title for title, _, _ in columns], columns)]
    for name, row in rows:
        out.append(
            _row([name] + [_cell(_field(row, key), key) for _, key, _ in columns[1:]], columns)
        )
    if not rows:
        out.append("  (none)")
    return out


def _row(cells: list[str], columns: tuple[Column, ...]) -> str:
    first, *rest = cells
    width0 = columns[0][2]
    text = first[:width0].ljust(width0)
    for cell, (_, _, width) in zip(rest, columns[1:], strict=True):
        text += " " + cell.rjust(width - 1) if width else "  " + cell.strip()
    return text.rstrip()


def _cell(value: object, key: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    try:
        return _FORMATS[key].format(value)
    except (ValueError, TypeError, KeyError):
        return str(value)
