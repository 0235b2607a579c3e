"""An over-long ``Authorization`` header sent to the operator endpoint never reaches a log:
aiohttp's own "Error handling request" traceback quotes the header's first bytes, and hedgebot
replaces it with one structured line naming only the exception class."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

from tests.support.process_daemon import daemon_env, event_count, start, wait_until


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_over_long_authorization_header_is_not_logged(tmp_path: Path) -> None:
    port = _free_port()
    state = tmp_path / "state"
    env = daemon_env(
        state,
        HEDGEBOT__HTTP__ENABLED="true",
        HEDGEBOT__HTTP__PORT=str(port),
        HEDGEBOT__HTTP__CONTROL_TOKEN="t" * 40,
    )
    daemon = start(state, args=("--duration", "600"), env=env)
    try:
        wait_until(
            lambda: event_count(daemon.journal, "daemon.started") == 1, timeout_s=120, daemon=daemon
        )
        token = "LeakyTokenPrefix" + "Z" * 9000
        with socket.create_connection(("127.0.0.1", port), timeout=30) as client:
            client.sendall(
                f"POST /control/halt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                "Content-Length: 0\r\n\r\n".encode()
            )
            answer = client.recv(64)
        assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), answer
        wait_until(lambda: "http.request_failed" in daemon.stderr(), timeout_s=30, daemon=daemon)
        daemon.kill(signal.SIGTERM)
        assert daemon.wait_exit(60) == 0
    finally:
        daemon.kill(signal.SIGKILL)
    output = daemon.stderr()
    assert "LeakyTokenPrefix" not in output
    assert "Traceback" not in output
    assert event_count(daemon.journal, "operator.halt") == 0
