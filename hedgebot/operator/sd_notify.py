"""systemd's notify protocol in pure Python: READY, WATCHDOG, STOPPING and STATUS messages.

Owns sending one datagram per message to the unix socket named by `NOTIFY_SOCKET` (a path, or an
abstract socket written `@name`), and reading the watchdog interval from `WATCHDOG_USEC`. With
`NOTIFY_SOCKET` unset (not under systemd, in a container, in tests) every call does nothing.

It must never block or raise: the socket is non-blocking and a failed send is logged
(`sd_notify.failed`) and forgotten, so a missing or wedged systemd cannot slow the engine.
It must not decide when to ping the watchdog: the engine loop does, once per healthy turn.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Final

import structlog

__all__ = ["notify", "ready", "status", "stopping", "watchdog", "watchdog_interval_s"]

_log = structlog.get_logger("hedgebot.operator.sd_notify")

_MAX_STATUS_CHARS: Final = 200


class _Sender:
    """One datagram socket, reused for every message, reopened if the address changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None

    def send(self, address: str, message: bytes) -> bool:
        with self._lock:
            try:
                if self._socket is None:
                    self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._socket.setblocking(False)
                self._socket.sendto(message, _socket_address(address))
            except OSError as exc:
                _log.warning("sd_notify.failed", message=message.decode(), error=str(exc))
                self._close()
                return False
            return True

    def _close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


_sender = _Sender()


def _socket_address(address: str) -> str | bytes:
    """`@name` is Linux's abstract namespace: a leading NUL byte instead of the '@'."""
    if address.startswith("@"):
        return b"\0" + address[1:].encode()
    return address


def notify(message: str) -> bool:
    """Send one raw notify message (`KEY=VALUE` lines); True when it was sent.

    False when `NOTIFY_SOCKET` is unset or the send failed; never raises.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    return _sender.send(address, message.encode())


def ready() -> bool:
    """Tell systemd start-up is complete (Type=notify units are 'active' from now on)."""
    return notify("READY=1")


def watchdog() -> bool:
    """Ping the watchdog: call at least every `watchdog_interval_s()` while healthy."""
    return notify("WATCHDOG=1")


def stopping() -> bool:
    """Tell systemd an orderly shutdown has begun."""
    return notify("STOPPING=1")


def status(text: str) -> bool:
    """Set the one-line status `systemctl status` shows."""
    line = " ".join(text.split())[:_MAX_STATUS_CHARS]
    return notify(f"STATUS={line}")


def watchdog_interval_s() -> float | None:
    """Half of systemd's `WatchdogSec` (the recommended ping period), or None if not watched.

    None when `WATCHDOG_USEC` is unset or invalid, or when `WATCHDOG_PID` names another process.
    """
    pid = os.environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(os.environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2_000_000
