"""Logging set-up: structlog with JSON lines when stdout is not a terminal, readable lines when
it is, and a redaction step that removes every configured secret from every event.

Owns `configure_logging` and `Redactor`. Secrets are registered once at start-up; any log value
that contains one is masked before it is rendered, whatever code logged it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any, TextIO

import structlog
from pydantic import SecretStr

MASK = "**********"


class Redactor:
    """A structlog processor that masks secret values anywhere in an event."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def register(self, secrets: Iterable[SecretStr | None]) -> None:
        """Remember secret values (short values are ignored: they would mask ordinary text)."""
        for secret in secrets:
            if secret is not None and len(value := secret.get_secret_value()) >= 6:
                self._secrets.add(value)

    def mask(self, text: str) -> str:
        """`text` with every registered secret replaced by the mask."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __call__(
        self, logger: object, name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Mask secrets in every value of `event`."""
        for key, value in list(event.items()):
            if isinstance(value, SecretStr):
                event[key] = MASK
            elif self._secrets and isinstance(value, str):
                event[key] = self.mask(value)
            elif self._secrets and not isinstance(value, int | float | bool | type(None)):
                event[key] = self.mask(str(value))
        return event


REDACTOR = Redactor()


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at the time, so that the live terminal view (which
    redirects it while it runs) prints log lines above itself instead of through it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(*, level: str, fmt: str, stream: TextIO | None = None) -> bool:
    """Configure structlog; returns True when the output is a terminal (console rendering)."""
    out = stream or sys.stderr
    console = fmt == "console" or (fmt == "auto" and out.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=out.isatty())
        if console
        else structlog.processors.JSONRenderer(sort_keys=True)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            REDACTOR,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(
            file=out if stream is not None or not console else _CurrentStderr()  # type: ignore[arg-type]
        ),
        cache_logger_on_first_use=False,
    )
    return console
