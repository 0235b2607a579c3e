"""What `systemctl status` shows: a STATUS= line with the trading state (and why) and a one-line
book summary, sent when it changes; and STOPPING=1 as soon as shutdown begins, not once it is
over (a stuck venue can make shutdown take half a minute)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hedgebot.clock import SimulatedClock
from hedgebot.daemon.state import BookState
from hedgebot.model.trading import TradingOrigin, TradingState
from hedgebot.model.view import TurnView
from hedgebot.operator.metrics import Metrics
from hedgebot.operator.surface import OperatorSurface, status_line
from tests.e2e.test_bad_input_daemon import RecordingDispatcher
from tests.operator.test_http_api import book_view
from tests.support.daemon_harness import settings_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        yield receiver


def _drain(receiver: socket.socket) -> list[str]:
    out: list[str] = []
    while True:
        try:
            out.append(receiver.recv(4096).decode())
        except BlockingIOError:
            return out


def test_status_line_names_state_reason_deltas_with_units_and_margin() -> None:
    view = dataclasses.replace(
        book_view(),
        trading_state=TradingState.HALTED,
        trading_reason="maintenance",
        trading_origin=TradingOrigin.OPERATOR,
    )
    line = status_line(view)
    assert line.startswith("HALTED (operator: maintenance) | ")
    assert "BTC +0.012/±0.050 coin" in line
    assert "ETH -1.500/±0.800 coin OUTSIDE" in line
    assert "MM/equity 12.5% (deribit-main/BTC)" in line


def test_status_is_sent_on_change_not_every_turn(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    """Same book twice: one STATUS=. A halt: a new STATUS= at once, with the reason."""
    surface = OperatorSurface(
        settings=settings_for(tmp_path),
        state=BookState(SimulatedClock(0)),
        metrics=Metrics(process_collectors=False),
        alerts=RecordingDispatcher(),
        halt=lambda _: None,
        resume=lambda: None,
        flatten=lambda: "",
    )
    view = book_view()
    surface.on_turn(view)
    surface.on_turn(view)
    first = [m for m in _drain(notify_socket) if m.startswith("STATUS=")]
    assert first == [f"STATUS={status_line(view)}"]
    assert first[0].startswith("STATUS=ACTIVE | BTC ")
    halted: TurnView = dataclasses.replace(
        view,
        trading_state=TradingState.HALTED,
        trading_reason="vol spike",
        trading_origin=TradingOrigin.OPERATOR,
    )
    surface.on_turn(halted)
    second = [m for m in _drain(notify_socket) if m.startswith("STATUS=")]
    assert second == [f"STATUS={status_line(halted)}"]
    assert "HALTED (operator: vol spike)" in second[0]


def stopping_order_report(config: str) -> None:
    """Child process: run the daemon for a moment with shutdown held until STOPPING=1 arrives
    (or 20 s pass); print whether it arrived before shutdown started and what was sent."""
    from hedgebot import app

    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(os.environ["NOTIFY_SOCKET"])
    receiver.setblocking(False)
    seen: list[str] = []
    before_shutdown: list[bool] = []
    original = app.Runtime.shutdown

    async def held_shutdown(self: app.Runtime) -> None:
        loop = asyncio.get_running_loop()

        async def stopping() -> None:
            while "STOPPING=1" not in seen:
                seen.append((await loop.sock_recv(receiver, 4096)).decode())

        try:
            await asyncio.wait_for(stopping(), 20)
            before_shutdown.append(True)
        except TimeoutError:
            before_shutdown.append(False)
        await original(self)

    app.Runtime.shutdown = held_shutdown  # type: ignore[method-assign]
    code = asyncio.run(
        app.run_daemon(config=Path(config), duration_s=3.0, summary_path=None, live_flag=False)
    )
    print("REPORT " + json.dumps({"code": code, "before": before_shutdown, "seen": seen}))


def test_stopping_is_sent_as_shutdown_begins(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("HEDGEBOT", "WATCHDOG"))},
        "NOTIFY_SOCKET": str(tmp_path / "notify.sock"),
        "HEDGEBOT__STATE_DIR": str(tmp_path / "state"),
        "HEDGEBOT__HTTP__ENABLED": "false",
        "HEDGEBOT__LOG__FORMAT": "json",
    }
    code = (
        "from tests.operator.test_systemd_status import stopping_order_report;"
        f"stopping_order_report({str(ROOT / 'config' / 'hedgebot.toml')!r})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    reports = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    assert reports, done.stdout[-2000:] + done.stderr[-2000:]
    report = json.loads(reports[-1].removeprefix("REPORT "))
    assert report["code"] == 0
    assert report["before"] == [True], "STOPPING=1 must come before the shutdown steps"
    statuses = [m for m in report["seen"] if m.startswith("STATUS=")]
    assert statuses, report["seen"]
    assert statuses[0].startswith("STATUS=ACTIVE | ")
    assert "coin" in statuses[0]
