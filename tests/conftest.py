"""Test-wide set-up: structured logs at warning level (pytest captures them per test)."""

from hedgebot.logs import configure_logging

configure_logging(level="warning", fmt="json")
