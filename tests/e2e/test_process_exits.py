"""Every way the daemon stops prints one line and exits with its documented status, as an
operator (and systemd) sees it: `hedgebot run` as a separate process.

A second instance on the same state directory exits 69 at once while the first keeps running;
SIGHUP and SIGTERM stop cleanly (0, `daemon.stopped` journaled); an unusable journal exits 74
without being modified; a misspelled environment override exits 78; no traceback unless
HEDGEBOT_DEBUG=1. The systemd units' RestartPreventExitStatus and docs/operator.md list exactly
the statuses of `hedgebot.daemon.exit_status`.
"""

from __future__ import annotations

import configparser
import hashlib
import re
import signal
from pathlib import Path

import pytest

from hedgebot.daemon.exit_status import NOT_RESTARTED, ExitStatus
from tests.support.process_daemon import ROOT, daemon_env, event_count, start, wait_until

START_TIMEOUT_S = 120.0


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("hedgebot: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_a_second_instance_exits_69_and_a_signal_stops_the_first_cleanly(
    tmp_path: Path, signum: signal.Signals
) -> None:
    state = tmp_path / "state"
    first = start(state, args=("--duration", "600"), name="first")
    try:
        wait_until(
            lambda: event_count(first.journal, "daemon.started") == 1,
            timeout_s=START_TIMEOUT_S,
            daemon=first,
        )
        second = start(state, args=("--duration", "600"), name="second")
        assert second.wait_exit(60) == ExitStatus.ALREADY_RUNNING
        line = _one_line(second.stderr())
        assert line.startswith("hedgebot: already running: another hedgebot")
        assert f"pid {first.process.pid}" in line
        assert first.process.poll() is None, "the second instance disturbed the first"
        first.kill(signum)
        assert first.wait_exit(60) == ExitStatus.OK
    finally:
        first.kill(signal.SIGKILL)
    assert event_count(first.journal, "daemon.stopped") == 1
    assert event_count(first.journal, "daemon.started") == 1
    assert signal.Signals(signum).name in first.stderr()


@pytest.mark.parametrize("damage", ["corrupt", "newer"])
def test_an_unusable_journal_exits_74_with_one_line_and_is_not_modified(
    tmp_path: Path, damage: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    journal = state / "journal-paper.sqlite"
    if damage == "corrupt":
        journal.write_bytes(b"SQLite format 3\x00" + b"\x13" * 4000)
    else:
        import sqlite3

        db = sqlite3.connect(journal)
        db.execute("CREATE TABLE orders (client_id TEXT)")
        db.execute("PRAGMA user_version = 999")
        db.commit()
        db.close()
    before = hashlib.sha256(journal.read_bytes()).hexdigest()
    daemon = start(state, args=("--duration", "5"))
    assert daemon.wait_exit(60) == ExitStatus.STATE_UNUSABLE
    line = _one_line(daemon.stderr())
    assert line.startswith("hedgebot: state unusable: journal")
    assert hashlib.sha256(journal.read_bytes()).hexdigest() == before


def test_a_misspelled_override_exits_78_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    state = tmp_path / "state"
    env = daemon_env(state, HEDGEBOT__HTTP_CONTROL_TOKEN="x" * 20)
    daemon = start(state, args=("--duration", "5"), env=env)
    assert daemon.wait_exit(60) == ExitStatus.CONFIG
    line = _one_line(daemon.stderr())
    assert "HEDGEBOT__HTTP_CONTROL_TOKEN" in line
    assert "x" * 20 not in daemon.stderr()
    debug = start(state, args=("--duration", "5"), env={**env, "HEDGEBOT_DEBUG": "1"})
    assert debug.wait_exit(60) == ExitStatus.CONFIG
    assert "Traceback" in debug.stderr()


def test_units_and_operator_guide_list_the_exit_statuses() -> None:
    """systemd does not restart exactly the statuses a restart cannot cure, and the operator
    guide documents every status."""
    for unit in ("hedgebot.service", "hedgebot@.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string((ROOT / "deploy" / "systemd" / unit).read_text())
        statuses = {int(s) for s in parser["Service"]["RestartPreventExitStatus"].split()}
        assert statuses == {int(s) for s in NOT_RESTARTED}, unit
    guide = (ROOT / "docs" / "operator.md").read_text()
    table = guide[guide.index("## Exit statuses") :]
    documented = {int(m) for m in re.findall(r"^\| (\d+) \|", table, re.MULTILINE)}
    assert documented == {int(s) for s in ExitStatus}
