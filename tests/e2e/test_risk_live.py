"""`hedgebot risk` on a live config reports the live account of the local Deribit-protocol
exchange (unmodified ccxt over HTTP and WebSocket) over read-only calls, next to a daemon's
journal that it never touches; an unreachable venue is one line and exit status 75."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from hedgebot.cli import EX_UNAVAILABLE, main
from hedgebot.daemon.journal import Journal
from hedgebot.risk_command import risk_report
from tests.support.live_harness import CONFIG, local_exchange


def _live_environment(monkeypatch: pytest.MonkeyPatch, state_dir: Path, url: str, ws: str) -> None:
    for key, value in {
        "HEDGEBOT__MODE": "live",
        "HEDGEBOT__STATE_DIR": str(state_dir),
        "HEDGEBOT__VENUES__DERIBIT__REST_URL": url,
        "HEDGEBOT__VENUES__DERIBIT__WS_URL": ws,
        "HEDGEBOT__VENUES__DERIBIT__API_KEY": "sim-main",
        "HEDGEBOT__VENUES__DERIBIT__API_SECRET": "sim-main-secret",
        "HEDGEBOT__HTTP__ENABLED": "false",
    }.items():
        monkeypatch.setenv(key, value)


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_risk_reports_the_live_account_without_touching_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live positions the exchange holds are in the report (the TOML lists none), no order
    call reaches the exchange, and the running daemon's journal is byte-for-byte unchanged."""
    journal_path = tmp_path / "journal-live.sqlite"
    journal = Journal(journal_path)
    journal.record_event(ts_ms=1, kind="daemon.started", detail={"mode": "live"})
    journal.close()
    before = journal_path.read_bytes()
    files_before = _files(tmp_path)  # the journal and the daemon's lock file
    async with local_exchange() as (server, book):
        _live_environment(monkeypatch, tmp_path, server.url, server.ws_url)
        text = await risk_report(config=CONFIG)
        order_calls = server.requests.order_entry_calls()
        methods = set(server.requests.methods())
    assert order_calls == ()
    assert "private/get_positions" in methods
    assert journal_path.read_bytes() == before
    assert _files(tmp_path) == files_before
    assert "book: LIVE accounts main@deribit, read-only" in text
    positions = text.split("POSITIONS", 1)[1].split("GREEKS PER UNDERLYING", 1)[0]
    assert "(none)" not in positions
    for seeded in book.accounts["main"].positions:
        row = next(line for line in positions.splitlines() if seeded.symbol in line)
        assert f"{seeded.amount:,.4f}" in row, row
    assert "STRESS (" in text
    assert "MARGIN HEADROOM" in text
    assert "TERM RISK" in text
    # the exchange's own position deltas agree with hedgebot's for every seeded position
    assert "GREEKS CHECK (our delta vs the venue's position delta, 4 positions)\nall within" in text


def test_unreachable_venue_is_one_line_and_status_75(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on the port: the CLI prints one line, no traceback, and exits 75."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    _live_environment(monkeypatch, tmp_path, url, f"ws://127.0.0.1:{port}/ws/api/v2")
    assert main(["risk", "--config", str(CONFIG), "--timeout", "5"]) == EX_UNAVAILABLE
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("hedgebot: risk: venue unreachable: ")
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


async def test_paper_mode_can_start_from_the_venue_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paper with `snapshot_from_venue`: the paper book is the exchange account's positions,
    read once with the key over read-only calls; the report says so and no order is sent."""
    async with local_exchange() as (server, book):
        _live_environment(monkeypatch, tmp_path, server.url, server.ws_url)
        monkeypatch.setenv("HEDGEBOT__MODE", "paper")
        monkeypatch.setenv("HEDGEBOT__ACCOUNTS__MAIN__SNAPSHOT_FROM_VENUE", "true")
        text = await risk_report(config=CONFIG)
        order_calls = server.requests.order_entry_calls()
    assert order_calls == ()
    assert "book: PAPER: accounts main start from the venue account's positions" in text
    positions = text.split("POSITIONS", 1)[1].split("GREEKS PER UNDERLYING", 1)[0]
    for seeded in book.accounts["main"].positions:
        row = next(line for line in positions.splitlines() if seeded.symbol in line)
        assert f"{seeded.amount:,.4f}" in row, row
    assert _files(tmp_path) == []
