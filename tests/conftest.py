"""Test-wide set-up: structured logs at warning level (pytest captures them per test).

Re-applied before every test, because commands run in-process (`hedgebot risk`, `run`)
configure logging for themselves and would otherwise change what later tests capture.
"""

import pytest

from hedgebot.operator.logs import configure_logging


@pytest.fixture(autouse=True)
def _warning_level_json_logs() -> None:
    configure_logging(level="warning", fmt="json")
