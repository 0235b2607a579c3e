"""A vega limit per expiry: the daemon journals (and so alerts) one event when an expiry's vega
first exceeds it, and none without a limit."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.daemon_harness import run_for, settings_for


def _events(path: Path, kind: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[0] for row in db.execute("SELECT detail FROM events WHERE kind = ?", (kind,))]


async def test_vega_beyond_its_limit_is_alerted_once(tmp_path: Path) -> None:
    """The default book is short about 630 USD of BTC vega per vol point in one expiry: a 500
    limit is breached from the first turn and alerted once, not every turn."""
    settings = settings_for(tmp_path, vega_limits='{"BTC": 500}')
    await run_for(settings, seconds=20)
    details = _events(tmp_path / "journal-paper.sqlite", "vega.limit_exceeded")
    assert len(details) == 1, details
    assert "BTC" in details[0]
    assert "2026-03-27" in details[0]


async def test_no_vega_event_without_a_limit(tmp_path: Path) -> None:
    """Without `vega_limits` nothing is checked."""
    await run_for(settings_for(tmp_path), seconds=5)
    assert _events(tmp_path / "journal-paper.sqlite", "vega.limit_exceeded") == []
