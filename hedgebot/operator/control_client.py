"""Client side of the operator endpoint, for the CLI: fetch /status, print it, send control.

Owns `fetch_status`, `render_status_table`, `send_control`, `default_url`, `read_token` and
`ControlError`, whose `exit_status` names each failure an operator meets: no daemon answering
(69), control disabled on the daemon (78), no or wrong token (77), anything else (1). It uses
only the standard library (urllib), so `hedgebot status` starts fast; the calls are blocking, as
a CLI wants. It must not import aiohttp, apprise or ccxt, and it must never print the control token.
The shape of /status is `hedgebot.model.view.TurnView.to_dict()`; missing fields print as `-`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal, Protocol

__all__ = [
    "CONTROL_ACTIONS",
    "EXIT_CONTROL_DISABLED",
    "EXIT_FAILED",
    "EXIT_NO_DAEMON",
    "EXIT_TOKEN_REFUSED",
    "TOKEN_ENV",
    "TOKEN_FILE_ENV",
    "ControlAction",
    "ControlError",
    "SecretLike",
    "default_url",
    "fetch_status",
    "read_token",
    "render_status_table",
    "send_control",
]

EXIT_FAILED: Final = 1
"""The daemon answered with an error (HTTP 5xx, not JSON, ...)."""
EXIT_NO_DAEMON: Final = 69
"""Nothing answers at the URL (EX_UNAVAILABLE): no daemon, or another port."""
EXIT_TOKEN_REFUSED: Final = 77
"""No control token was given, or the daemon refused it (EX_NOPERM)."""
EXIT_CONTROL_DISABLED: Final = 78
"""The daemon runs without a control token, so control is off (EX_CONFIG: its configuration)."""

TOKEN_ENV: Final = "HEDGEBOT__HTTP__CONTROL_TOKEN"
TOKEN_FILE_ENV: Final = "HEDGEBOT__HTTP__CONTROL_TOKEN_FILE"
PORT_ENV: Final = "HEDGEBOT__HTTP__PORT"
DEFAULT_PORT: Final = 9102

ControlAction = Literal["halt", "resume", "flatten-hedges"]
CONTROL_ACTIONS: Final[tuple[ControlAction, ...]] = ("halt", "resume", "flatten-hedges")


class SecretLike(Protocol):
    """A pydantic `SecretStr` or anything else that hides its value until asked."""

    def get_secret_value(self) -> str: ...


class ControlError(Exception):
    """The endpoint could not be reached or refused the request; the message says which."""

    def __init__(
        self, message: str, *, status: int | None = None, exit_status: int = EXIT_FAILED
    ) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status, when the daemon answered."""
        self.exit_status = exit_status
        """What the CLI exits with (the EXIT_* constants)."""


def default_url(environ: Mapping[str, str]) -> str:
    """The daemon's endpoint when no --url is given: 127.0.0.1 on the port the daemon reads
    from the same environment (`HEDGEBOT__HTTP__PORT`), else the default 9102."""
    port = environ.get(PORT_ENV, "").strip()
    return f"http://127.0.0.1:{port if port.isdigit() and port != '0' else DEFAULT_PORT}"


def read_token(
    environ: Mapping[str, str], *, env: str = TOKEN_ENV, file: Path | None = None
) -> str:
    """The control token: from `file` if given, else the variable `env`, else the file named by
    `HEDGEBOT__HTTP__CONTROL_TOKEN_FILE` (as the daemon reads it); "" when there is none."""
    path = file
    if path is None and not environ.get(env) and environ.get(TOKEN_FILE_ENV):
        path = Path(environ[TOKEN_FILE_ENV])
    if path is None:
        return environ.get(env, "").strip()
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ControlError(
            f"cannot read the control token file {path}: {exc.strerror}",
            exit_status=EXIT_TOKEN_REFUSED,
        ) from None


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
        raise _http_error(exc) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ControlError(
            f"no daemon answering at {request.full_url} ({reason}); is `hedgebot run` running "
            "with its HTTP endpoint on this port? (--url, or HEDGEBOT__HTTP__PORT)",
            exit_status=EXIT_NO_DAEMON,
        ) from None
    try:
        return json.loads(payload)
    except ValueError:
        raise ControlError(f"{request.full_url} did not answer JSON") from None


def _http_error(exc: urllib.error.HTTPError) -> ControlError:
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        body = {}
    refusal = body.get("refusal") if isinstance(body, dict) else None
    detail = body.get("error") if isinstance(body, dict) else None
    if refusal == "control_disabled":
        return ControlError(
            "control is disabled on the daemon (it runs without a control token): restart it "
            f"with {TOKEN_ENV} or {TOKEN_FILE_ENV} set",
            status=exc.code,
            exit_status=EXIT_CONTROL_DISABLED,
        )
    if exc.code == 401:
        return ControlError(
            f"no control token given: set {TOKEN_ENV} (or {TOKEN_FILE_ENV}, or --token-file) "
            "to the daemon's token",
            status=exc.code,
            exit_status=EXIT_TOKEN_REFUSED,
        )
    if exc.code == 403:
        return ControlError(
            "the daemon refused the control token (wrong token)",
            status=exc.code,
            exit_status=EXIT_TOKEN_REFUSED,
        )
    return ControlError(f"HTTP {exc.code}: {detail or exc.reason}", status=exc.code)


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
    state = f"trading state: {status.get('trading_state', '-')}"
    reason, origin = status.get("trading_reason"), status.get("trading_origin")
    if reason and status.get("trading_state") != "active":
        since = status.get("trading_since_ms")
        when = f", since {_utc(since)} UTC" if isinstance(since, int) else ""
        state += f" ({origin}: {reason}{when})"
    parts = [state]
    if "mode" in status:
        parts.append(f"mode: {status['mode']}")
    now_ms = status.get("now_ms")
    if isinstance(now_ms, int):
        parts.append(f"as of {_utc(now_ms)} UTC")
    return "   ".join(parts)


def _utc(ms: int) -> str:
    return f"{dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC):%Y-%m-%d %H:%M:%S}"


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
