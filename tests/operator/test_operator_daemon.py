"""The operator surface of the real `hedgebot run` process: systemd notifications on a test
socket, /healthz, /metrics and /status over HTTP, control with a token, alerts to a real
webhook, and a clean exit 0 on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.webhook_receiver import WebhookReceiver, running_receiver

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _next_notification(sock: socket.socket, wanted: str, seen: list[str]) -> None:
    loop = asyncio.get_running_loop()
    while wanted not in seen:
        data = await loop.sock_recv(sock, 4096)
        seen.extend(data.decode().splitlines())


async def test_daemon_notifies_systemd_serves_metrics_obeys_control_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    """READY after reconciliation, WATCHDOG while turning, metrics with the book's figures,
    halt with the token (refused without), alerts delivered, STOPPING and exit 0 on SIGTERM."""
    notify_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    sock.setblocking(False)
    port = _free_port()
    token = "control-token-for-test"
    seen: list[str] = []
    async with running_receiver(WebhookReceiver()) as receiver:
        env = {
            **os.environ,
            "NOTIFY_SOCKET": str(notify_path),
            "WATCHDOG_USEC": "400000",
            "HEDGEBOT__STATE_DIR": str(tmp_path / "state"),
            "HEDGEBOT__SIMULATOR__SPEED": "20",
            "HEDGEBOT__HTTP__PORT": str(port),
            "HEDGEBOT__HTTP__CONTROL_TOKEN": token,
            "HEDGEBOT__ALERTS__URLS": json.dumps([receiver.url()]),
            "HEDGEBOT__LOG__FORMAT": "json",
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hedgebot",
            "run",
            "--config",
            str(ROOT / "config/hedgebot.toml"),
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await asyncio.wait_for(_next_notification(sock, "READY=1", seen), 30)
            await asyncio.wait_for(_next_notification(sock, "WATCHDOG=1", seen), 10)
            base = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{base}/healthz") as response:
                    assert response.status == 200
                async with http.get(f"{base}/metrics") as response:
                    text = await response.text()
                families = {f.name: f for f in text_string_to_metric_families(text)}
                bands = {
                    s.labels["underlying"]: s.value
                    for s in families["hedgebot_band_half_width_coin"].samples
                }
                assert bands["BTC"] == 0.25
                ratios = families["hedgebot_margin_maintenance_ratio"].samples
                assert ratios
                assert all(0 <= s.value < 1 for s in ratios)
                async with http.post(f"{base}/control/halt") as response:
                    assert response.status == 401
                headers = {"Authorization": f"Bearer {token}"}
                async with http.post(f"{base}/control/halt", headers=headers) as response:
                    assert response.status == 200

                def lowered() -> list[str]:
                    return [t.lower() for t in receiver.titles()]

                await receiver.wait_for(accepted=2, timeout_s=10)
                while not any("state" in t for t in lowered()):
                    await receiver.wait_for(accepted=len(lowered()) + 1, timeout_s=10)
                async with http.get(f"{base}/status") as response:
                    status = await response.json()
                assert status["trading_state"] == "halted"
                assert status["trading_origin"] == "operator"
                assert status["trading_reason"] == "operator request via HTTP"
                assert isinstance(status["trading_since_ms"], int)
                rows = status["underlyings"].values()
                assert all("halted" in row["trading"].lower() for row in rows), rows
            await receiver.wait_for(accepted=1, timeout_s=10)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.wait_for(process.wait(), 30)
            await asyncio.wait_for(_next_notification(sock, "STOPPING=1", seen), 5)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            sock.close()
        stderr = (await process.stderr.read()).decode() if process.stderr else ""
        assert code == 0, stderr[-2000:]
        titles = receiver.titles()
    assert any("hedgebot started" in t for t in titles), titles
    assert any("Trading state changed" in t for t in titles), titles
    assert any("hedgebot stopped" in t for t in titles), titles
    assert token not in stderr
    assert stderr.count('"event": "operator.halt"') == 1, "a halt is logged once"
