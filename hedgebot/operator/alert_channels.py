"""Alert channels: one apprise notification target per configured URL, with its secrets masked.

Owns `AppriseChannel` (a blocking `send` of one rendered alert to one apprise URL), the text
rendering of an alert for chat/e-mail channels, and `mask_url`. Channel URLs embed tokens
(Telegram bot tokens, Slack webhooks, SMTP passwords), so they are held as `SecretStr`, never
formatted into a log line, `repr` or exception, and apprise's own logger (which may name hosts
and paths) is silenced: hedgebot logs delivery outcomes itself, by channel index.

It must not queue, retry, rate-limit or touch the event loop: `hedgebot.operator.alerts` does that
and runs `send` in a worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import apprise
from pydantic import SecretStr

if TYPE_CHECKING:
    from hedgebot.model.alerts import Alert

__all__ = ["AppriseChannel", "mask_url", "render_body", "render_title"]

_APPRISE_LOGGER: Final = "apprise"


class _DropAll(logging.Filter):
    """Drop every record: apprise log lines can carry parts of secret notification URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return False


def silence_apprise_logging() -> None:
    """Stop apprise's own logger from emitting anything (idempotent)."""
    logger = logging.getLogger(_APPRISE_LOGGER)
    if not any(isinstance(f, _DropAll) for f in logger.filters):
        logger.addFilter(_DropAll())
    logger.propagate = False


def mask_url(url: str | SecretStr) -> str:
    """Keep only the scheme of a notification URL: `tgram://***`. Everything else may be secret."""
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    scheme, sep, _ = text.partition("://")
    if not sep or not scheme.isalnum():
        return "***"
    return f"{scheme}://***"


def render_title(alert: Alert) -> str:
    """The one-line title sent to every channel: severity first, so it reads on a phone."""
    return f"[{alert.severity.value}] {alert.title}"


def render_body(alert: Alert) -> str:
    """The message text: the alert body, then one `name: value` line per field."""
    lines = [alert.body] if alert.body else []
    lines.extend(_field_lines(alert.fields))
    return "\n".join(lines) if lines else alert.title


def _field_lines(fields: Mapping[str, str]) -> list[str]:
    return [f"{name}: {value}" for name, value in fields.items()]


_NOTIFY_TYPES: Final = {
    "INFO": apprise.NotifyType.INFO,
    "WARNING": apprise.NotifyType.WARNING,
    "CRITICAL": apprise.NotifyType.FAILURE,
    "RESOLVED": apprise.NotifyType.SUCCESS,
}


class AppriseChannel:
    """One notification target. `send` blocks (network I/O): call it from a worker thread."""

    __slots__ = ("_apprise", "_index", "_timeout_s")

    def __init__(self, url: SecretStr, *, index: int, timeout_s: float) -> None:
        silence_apprise_logging()
        self._index = index
        self._timeout_s = timeout_s
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url.get_secret_value()):
            # The URL itself is never quoted: it may hold a token.
            raise ValueError(f"alert channel {index} ({mask_url(url)}) is not a valid apprise URL")

    @property
    def index(self) -> int:
        """Position of this channel in the configured URL list (what logs name it by)."""
        return self._index

    def send(self, alert: Alert) -> str | None:
        """Deliver one alert: None when the target accepted it, else why not. Never raises.

        The reason is an exception class name or ``"rejected"``, never apprise's message text,
        which may quote the URL.
        """
        try:
            result = self._apprise.notify(
                body=render_body(alert),
                title=render_title(alert),
                notify_type=_NOTIFY_TYPES[alert.severity.value],
                timeout=self._timeout_s,
            )
        except Exception as exc:  # apprise plugins may raise anything; the dispatcher retries.
            return type(exc).__name__
        return None if result else "rejected"

    def __repr__(self) -> str:
        return f"AppriseChannel(index={self._index})"
