"""systemd notify messages, captured on a real unix datagram socket like systemd's."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from hedgebot.operator import sd_notify


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A bound datagram socket named by NOTIFY_SOCKET, as systemd sets it for Type=notify."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.settimeout(2.0)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield receiver


def test_lifecycle_messages_reach_systemd(notify_socket: socket.socket) -> None:
    """READY, STATUS, WATCHDOG and STOPPING arrive as systemd expects them, in order."""
    assert sd_notify.ready()
    assert sd_notify.status("trading BTC, ETH\n 2 accounts")
    assert sd_notify.watchdog()
    assert sd_notify.stopping()
    received = [notify_socket.recv(4096) for _ in range(4)]
    assert received == [
        b"READY=1",
        b"STATUS=trading BTC, ETH 2 accounts",
        b"WATCHDOG=1",
        b"STOPPING=1",
    ]


@pytest.mark.skipif(sys.platform != "linux", reason="abstract sockets are Linux-only")
def test_abstract_notify_socket_is_supported(monkeypatch: pytest.MonkeyPatch) -> None:
    """A NOTIFY_SOCKET of the form @name (abstract namespace) works too."""
    name = f"hedgebot-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(b"\0" + name.encode())
        receiver.settimeout(2.0)
        monkeypatch.setenv("NOTIFY_SOCKET", f"@{name}")
        assert sd_notify.ready()
        assert receiver.recv(4096) == b"READY=1"


def test_without_systemd_every_call_is_a_silent_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside systemd (no NOTIFY_SOCKET) nothing is sent and nothing fails."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert [sd_notify.ready(), sd_notify.watchdog(), sd_notify.stopping()] == [False] * 3


def test_a_vanished_socket_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If systemd's socket is gone the engine keeps running; the failure is logged."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens.sock"))
    with capture_logs() as logs:
        assert not sd_notify.watchdog()
    assert [e["event"] for e in logs] == ["sd_notify.failed"]


@pytest.mark.parametrize(
    ("usec", "pid", "expected"),
    [
        ("30000000", None, 15.0),
        ("30000000", "self", 15.0),
        ("30000000", "1", None),
        (None, None, None),
        ("garbage", None, None),
        ("0", None, None),
    ],
)
def test_watchdog_interval_is_half_of_watchdog_sec(
    monkeypatch: pytest.MonkeyPatch, usec: str | None, pid: str | None, expected: float | None
) -> None:
    """The loop pings at half of WatchdogSec, and not at all when the watchdog is someone else's."""
    for name, value in (("WATCHDOG_USEC", usec), ("WATCHDOG_PID", pid)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, str(os.getpid()) if value == "self" else value)
    assert sd_notify.watchdog_interval_s() == expected
