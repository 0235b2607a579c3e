"""Running the local Deribit exchange: book files, `serve`, and
`python -m hedgebot_localvenues.deribit`."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from hedgebot.model.errors import ConfigError
from hedgebot_localvenues.deribit import DeribitSimServer, load_book, main, serve

ROOT = Path(__file__).resolve().parents[2]
BOOK = """
start = 2026-02-02T00:00:00Z
step_seconds = 0.5
symbols = ["BTC-PERPETUAL", "BTC-27MAR26-60000-C"]

[accounts.desk]
api_key = "desk-key"
api_secret = "desk-secret"
collateral = { BTC = 3.0 }
positions = [{ symbol = "BTC-27MAR26-60000-C", amount = 5.0, price = 0.05 }]
"""


def test_book_files_are_validated(tmp_path: Path) -> None:
    """A valid book loads; unlisted positions, shared keys and missing files are ConfigErrors."""
    good = tmp_path / "book.toml"
    good.write_text(BOOK)
    book = load_book(good)
    assert book.start_ms == 1769990400000
    assert book.accounts["desk"].positions[0].amount == 5.0
    assert book.credentials()[0].api_key == "desk-key"
    unlisted = tmp_path / "unlisted.toml"
    unlisted.write_text(BOOK.replace('symbol = "BTC-27MAR26-60000-C"', 'symbol = "ETH-PERPETUAL"'))
    with pytest.raises(ConfigError, match="not listed"):
        load_book(unlisted)
    shared = tmp_path / "shared.toml"
    shared.write_text(BOOK + '\n[accounts.twin]\napi_key = "desk-key"\napi_secret = "x"\n')
    with pytest.raises(ConfigError, match="share an api_key"):
        load_book(shared)
    with pytest.raises(ConfigError, match="not found"):
        load_book(tmp_path / "missing.toml")


def test_main_exits_78_on_a_bad_book(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing or invalid book file stops the command with EX_CONFIG and one line of why."""
    assert main(["--book", str(tmp_path / "missing.toml")]) == 78
    assert "book file not found" in capsys.readouterr().err
    assert main(["--speed", "0"]) == 78


async def test_serve_announces_and_runs_until_cancelled(tmp_path: Path) -> None:
    """serve() binds an ephemeral port, announces it, answers calls, and stops when cancelled."""
    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    announced: asyncio.Future[DeribitSimServer] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        serve(port=0, speed=5.0, book=load_book(path), ready=announced.set_result)
    )
    server = await asyncio.wait_for(announced, 10)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/api/v2/public/get_time") as response,
    ):
        now = (await response.json())["result"]
    assert now >= 1769990400000
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_module_entry_point_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    """``python -m hedgebot_localvenues.deribit --port 0`` prints its URLs, serves, exits 0 on
    SIGTERM."""
    path = tmp_path / "book.toml"
    path.write_text(BOOK)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hedgebot_localvenues.deribit",
        "--port",
        "0",
        "--book",
        str(path),
        "--faults",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        rest_url = ""
        while not rest_url:
            line = (await asyncio.wait_for(process.stdout.readline(), 20)).decode()
            assert line, "the exchange exited before announcing its URL"
            if line.startswith("deribit-sim listening:"):
                rest_url = line.split()[3]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{rest_url}/api/v2/public/get_instruments") as response:
                names = [i["instrument_name"] for i in (await response.json())["result"]]
            async with http.get(f"{rest_url}/_sim/faults") as faults:
                assert faults.status == 200
        assert names == ["BTC-PERPETUAL", "BTC-27MAR26-60000-C"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 20)
    assert code == 0
