"""Metrics that tell the truth: every counter exists at 0 from start-up, and the fees and
rebates `/metrics` reports after a real run are the journal's fills, in USD at each fill's price."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
import tomllib
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from hedgebot.operator.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
COUNTERS = (
    "hedgebot_hedge_orders",
    "hedgebot_hedge_fills",
    "hedgebot_hedge_rejects",
    "hedgebot_fees_usd",
    "hedgebot_fee_rebates_usd",
)


Samples = dict[tuple[str, str], float]
JournalFees = tuple[int, dict[str, float], dict[str, float]]


def _samples(text: str) -> dict[tuple[str, str], float]:
    """(metric family, its one label value) -> value, for the `_total` samples of counters."""
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_total") and len(sample.labels) == 1:
                out[family.name, next(iter(sample.labels.values()))] = sample.value
    return out


def test_every_counter_is_exported_at_zero_before_its_first_event() -> None:
    """So that `increase(...[10m]) >= 3` sees a first episode of three rejects."""
    metrics = Metrics(process_collectors=False)
    metrics.declare(underlyings=["BTC", "ETH"], venues=["deribit"])
    samples = _samples(metrics.render().decode())
    for name in COUNTERS:
        for underlying in ("BTC", "ETH"):
            assert samples[name, underlying] == 0.0, (name, underlying)
    assert samples["hedgebot_reconnects", "deribit"] == 0.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _journal_fees(path: Path) -> JournalFees:
    """Fill count, fees paid and rebates earned per underlying, in USD at each fill's price."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT o.underlying, f.fee, f.fee_currency, f.price"
            " FROM fills f JOIN orders o ON o.client_id = f.client_id"
        ).fetchall()
    paid: dict[str, float] = {}
    earned: dict[str, float] = {}
    for underlying, fee, currency, price in rows:
        usd = fee * price if currency == underlying else fee
        side = paid if usd >= 0 else earned
        side[underlying] = side.get(underlying, 0.0) + abs(usd)
    return len(rows), paid, earned


async def test_metrics_fees_match_the_journal_after_a_run(tmp_path: Path) -> None:
    """A simulated daemon hedges; once /metrics and the journal hold the same fills, the fees
    and rebates per underlying agree to the cent, and they are not zero."""
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HEDGEBOT")},
        "HEDGEBOT__STATE_DIR": str(tmp_path / "state"),
        "HEDGEBOT__SIMULATOR__SPEED": "30",
        "HEDGEBOT__HTTP__PORT": str(port),
        "HEDGEBOT__LOG__FORMAT": "json",
    }
    config = ROOT / "config" / "hedgebot.toml"
    underlyings = sorted(tomllib.loads(config.read_text())["hedges"])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hedgebot",
        "run",
        "--config",
        str(config),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    journal = tmp_path / "state" / "journal-paper.sqlite"
    url = f"http://127.0.0.1:{port}/metrics"
    first: dict[tuple[str, str], float] | None = None
    try:
        async with aiohttp.ClientSession() as http:

            async def scrape() -> dict[tuple[str, str], float] | None:
                try:
                    async with http.get(url) as response:
                        return _samples(await response.text())
                except aiohttp.ClientConnectionError:
                    return None

            async def agreeing() -> tuple[Samples, JournalFees]:
                nonlocal first
                while True:
                    samples = await scrape()
                    if samples is not None:
                        first = first or samples
                        fills = sum(samples["hedgebot_hedge_fills", u] for u in underlyings)
                        if fills >= 3 and journal.exists():
                            counted = _journal_fees(journal)
                            if counted[0] == fills:
                                return samples, counted
                    await asyncio.sleep(0.2)  # polling a condition: the next scrape

            samples, (_, paid, earned) = await asyncio.wait_for(agreeing(), 120)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    assert first is not None
    for name in COUNTERS:
        for underlying in underlyings:
            assert (name, underlying) in first, f"{name}{{{underlying}}} missing at start-up"
    assert sum(paid.values()) + sum(earned.values()) > 0, "the simulated venue charges fees"
    for underlying in underlyings:
        fees = samples["hedgebot_fees_usd", underlying]
        rebates = samples["hedgebot_fee_rebates_usd", underlying]
        assert abs(fees - paid.get(underlying, 0.0)) < 0.01, underlying
        assert abs(rebates - earned.get(underlying, 0.0)) < 0.01, underlying
