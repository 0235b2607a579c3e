"""Decision latency: market event to order handed to the venue, for a book of 1,000 option
positions over 3 underlyings, through the real composition root on the simulated exchange.

Each step advances the simulated exchange one second (it delivers ~1,000 new quotes, fills and
account snapshots to the daemon's state), then times the hedge loop's turn from the moment the
loop is woken: (a) the whole turn, (b) for turns that hedged, until ``Broker.submit`` is
called. The simulator's own work is not counted. A tight band makes most turns hedge.

Run: ``python benchmarks/bench_decision.py [--turns N]``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hedgebot.app import Runtime
from hedgebot.config import Settings
from hedgebot.model.orders import OrderRequest, OrderUpdate
from hedgebot.operator.logs import configure_logging
from hedgebot.venues.ports import Broker

ROOT = Path(__file__).resolve().parents[1]
EXPIRIES = ("27MAR26", "24APR26", "26JUN26")
SPOTS = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0}


def option_book(count: int, seed: int = 3) -> list[dict[str, Any]]:
    """`count` option positions spread over 3 underlyings, 3 expiries, strikes ±40%."""
    rng = np.random.default_rng(seed)
    positions: list[tuple[str, float]] = []
    for n in range(count):
        underlying = ("BTC", "ETH", "SOL")[n % 3]
        spot = SPOTS[underlying]
        step = {"BTC": 1000, "ETH": 50, "SOL": 5}[underlying]
        strike = round(spot * rng.uniform(0.6, 1.4) / step) * step
        kind = "C" if rng.random() < 0.5 else "P"
        symbol = f"{underlying}-{EXPIRIES[n % 3]}-{int(strike)}-{kind}"
        lot = 0.1 if underlying == "BTC" else 1.0
        positions.append((symbol, lot * int(rng.integers(-20, 21) or 1)))
    merged: dict[str, float] = {}
    for symbol, amount in positions:
        merged[symbol] = merged.get(symbol, 0.0) + amount
    return [{"symbol": s, "amount": a} for s, a in merged.items() if a]


def settings(state_dir: str, count: int) -> Settings:
    """The default config with a 1,000-position book and a tight band on each underlying."""
    data = tomllib.loads((ROOT / "config" / "hedgebot.toml").read_text())
    data["state_dir"] = state_dir
    data["simulator"]["speed"] = 0
    data["accounts"]["main"]["positions"] = option_book(count)
    data["accounts"]["main"]["collateral"] = {"BTC": 50.0, "ETH": 500.0, "SOL": 10_000.0}
    data["guards"] = {
        "max_orders_per_minute": 10_000,
        "max_notional_per_minute_usd": 1e12,
        "max_notional_per_hour_usd": 1e13,
        "kill_abs_net_delta_usd": 1e12,
    }
    for underlying in ("BTC", "ETH", "SOL"):
        data["hedges"][underlying] = {
            "account": "main",
            "instrument": f"{underlying}-PERPETUAL",
            "band": {"kind": "fixed", "half_width": 0.01 if underlying == "BTC" else 0.2},
            "min_order": 0.001,
            "max_order": 1e4,
            "max_position": 1e6,
            "cooldown_s": 0.0,
        }
    return Settings(**data)


class TimedBroker:
    """Delegates to a real broker, noting when each order is handed to it."""

    def __init__(self, inner: Broker, marks: list[float]) -> None:
        self._inner = inner
        self._marks = marks
        self.account = inner.account
        self.venue = inner.venue

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        """Record the hand-over time, then let the venue work asynchronously, as a real one
        does over the network (the simulator's own margin check is not the daemon's latency)."""
        self._marks.append(time.perf_counter())
        await asyncio.sleep(0)
        return await self._inner.submit(order)


async def measure(count: int, turns: int) -> tuple[list[float], list[float]]:
    """Latencies in seconds: every turn, and the turns that handed an order to the venue."""
    with tempfile.TemporaryDirectory() as state_dir:
        runtime = Runtime(settings(state_dir, count), live=False, observers=[])
        submits: list[float] = []
        for name, broker in list(runtime.venues.brokers.items()):
            runtime.venues.brokers[name] = TimedBroker(broker, submits)
        engine = await runtime.start()
        every: list[float] = []
        hedged: list[float] = []
        for _ in range(turns):
            runtime.clock.advance(1.0)  # type: ignore[attr-defined]
            before = len(submits)
            woken = time.perf_counter()  # every market event of this step is in the state now
            await engine.turn()
            every.append(time.perf_counter() - woken)
            await asyncio.sleep(0)
            if len(submits) > before:
                hedged.append(submits[before] - woken)
        await runtime.shutdown()
        return every, hedged


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile in milliseconds."""
    return float(np.percentile(np.asarray(values), q)) * 1e3


def main() -> None:
    """Print the latency table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=1000)
    parser.add_argument("--turns", type=int, default=3000)
    args = parser.parse_args()
    configure_logging(level="error", fmt="json")
    every, hedged = asyncio.run(measure(args.positions, args.turns))
    print(f"book: {args.positions} option positions over BTC, ETH, SOL; {args.turns} turns")
    print("| latency (ms) | n | p50 | p99 | max |")
    print("|---|---:|---:|---:|---:|")
    for name, values in (
        ("whole turn: risk, decisions, orders, service", every),
        ("market event to order handed to the venue", hedged),
    ):
        if values:
            print(
                f"| {name} | {len(values)} | {percentile(values, 50):.3f} | "
                f"{percentile(values, 99):.3f} | {max(values) * 1e3:.3f} |"
            )
    print(f"mean turn {statistics.fmean(every) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
