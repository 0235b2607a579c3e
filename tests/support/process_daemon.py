"""`hedgebot run` as a separate process, as an operator (or systemd) runs it: start it on a state
directory, wait for a journaled condition, signal or kill it, read its exit and its stderr.

Used by the exit-status tests and the restart campaign (`tests/e2e/process_campaign.py`).
Waits poll the journal read-only with a deadline; nothing sleeps for synchronisation.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "config" / "hedgebot.toml"
POLL_S = 0.05


def daemon_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a daemon on `state_dir`: no HTTP listener, JSON logs, no HEDGEBOT__
    variables of the calling process."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HEDGEBOT")}
    env.update(
        {
            "HEDGEBOT__STATE_DIR": str(state_dir),
            "HEDGEBOT__HTTP__ENABLED": "false",
            "HEDGEBOT__LOG__FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class Daemon:
    """One `hedgebot run` process."""

    process: subprocess.Popen[bytes]
    state_dir: Path
    stderr_path: Path

    @property
    def journal(self) -> Path:
        return self.state_dir / "journal-paper.sqlite"

    def wait_exit(self, timeout_s: float) -> int:
        return self.process.wait(timeout=timeout_s)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def kill(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)


def start(
    state_dir: Path,
    *,
    args: tuple[str, ...] = (),
    env: Mapping[str, str] | None = None,
    config: Path = DEFAULT_CONFIG,
    name: str = "daemon",
) -> Daemon:
    """Start `hedgebot run` on `state_dir` (stderr captured in a file beside it)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = state_dir.parent / f"{state_dir.name}-{name}-{time.monotonic_ns()}.stderr"
    with stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "hedgebot", "run", "--config", str(config), *args],
            cwd=ROOT,
            env=dict(env) if env is not None else daemon_env(state_dir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return Daemon(process=process, state_dir=state_dir, stderr_path=stderr_path)


def query(journal: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Rows of a read-only query of a journal (another process may be writing it)."""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5.0)
    try:
        return list(db.execute(sql, params).fetchall())
    finally:
        db.close()


def event_count(journal: Path, kind: str) -> int:
    if not journal.exists():
        return 0
    try:
        rows = query(journal, "SELECT COUNT(*) FROM events WHERE kind = ?", (kind,))
    except sqlite3.OperationalError:
        return 0  # not created yet
    return int(str(rows[0][0]))


def wait_until(
    condition: Callable[[], bool], *, timeout_s: float, daemon: Daemon | None = None
) -> None:
    """Poll `condition` until true; fail at the deadline or if `daemon` exits first."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if daemon is not None and daemon.process.poll() is not None:
            raise AssertionError(
                f"daemon exited {daemon.process.returncode} first: {daemon.stderr()[-2000:]}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(POLL_S)
