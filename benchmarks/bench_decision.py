"""Decision latency: market event to order handed to the venue, for books of distinct option
instruments (100, 1,000 and 10,000 by default; every position its own instrument) over 3
underlyings, through the real composition root on the simulated exchange.

Each step advances the simulated exchange one second (it delivers ~1,000 new quotes, fills and
account snapshots to the daemon's state), then times the hedge loop's turn from the moment the
loop is woken: (a) the whole turn, (b) for turns that hedged, until ``Broker.submit`` is
called. The simulator's own work is not counted. A tight band makes most turns hedge.

The first figure excludes the venue's own work (the simulated exchange's margin check and
matching run after the hand-over); the journal's SQLite commits before the send (the turn's
decisions and the order's intent) are measured apart, and the figure is repeated without them;
the whole turn, which includes the sends, is reported apart.

Run: ``python benchmarks/bench_decision.py [--sizes 100,1000,10000] [--turns N]``; prints a
markdown table.
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
from hedgebot.venue_wiring import VenueHooks
from hedgebot.venues.ports import Broker

ROOT = Path(__file__).resolve().parents[1]
EXPIRIES = ("27MAR26", "24APR26", "29MAY26", "26JUN26", "25SEP26", "25DEC26")
SPOTS = {"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0}


def option_book(count: int, seed: int = 3) -> list[dict[str, Any]]:
    """`count` positions in `count` distinct options: 3 underlyings x 6 expiries x calls and
    puts, each series on its own grid of integer strikes from 50% to 250% of spot."""
    rng = np.random.default_rng(seed)
    series = [(u, e, k) for u in SPOTS for e in EXPIRIES for k in "CP"]
    per_series = -(-count // len(series))
    positions: list[dict[str, Any]] = []
    for n, (underlying, expiry, kind) in enumerate(series):
        spot = SPOTS[underlying]
        strikes = np.unique(np.round(np.linspace(0.5 * spot, 2.5 * spot, per_series)))
        assert len(strikes) == per_series, f"{underlying}: not enough distinct strikes"
        lot = 0.1 if underlying == "BTC" else 1.0
        for strike in strikes[: max(0, min(per_series, count - n * per_series))]:
            amount = lot * int(rng.integers(1, 21)) * (1 if rng.random() < 0.5 else -1)
            positions.append(
                {"symbol": f"{underlying}-{expiry}-{int(strike)}-{kind}", "amount": amount}
            )
    assert len({p["symbol"] for p in positions}) == count
    return positions


def settings(state_dir: str, count: int) -> Settings:
    """The default config with a `count`-instrument book and a tight band on each underlying."""
    data = tomllib.loads((ROOT / "config" / "hedgebot.toml").read_text())
    data["state_dir"] = state_dir
    data["simulator"]["speed"] = 0
    data["accounts"]["main"]["positions"] = option_book(count)
    scale = max(1.0, count / 100)  # short options need margin in proportion to the book
    data["accounts"]["main"]["collateral"] = {
        "BTC": 50.0 * scale,
        "ETH": 500.0 * scale,
        "SOL": 10_000.0 * scale,
    }
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


def _timed(write: Any, spans: list[tuple[float, float]]) -> Any:
    """`write`, noting the (start, end) of each call in `spans`."""

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return write(*args, **kwargs)
        finally:
            spans.append((started, time.perf_counter()))

    return timed


async def measure(count: int, turns: int) -> tuple[list[float], list[float], list[float]]:
    """Latencies in seconds: every turn, the turns that handed an order to the venue, and the
    journal's writes (decisions, intents, risk) inside each of those before the hand-over."""
    with tempfile.TemporaryDirectory() as state_dir:
        submits: list[float] = []
        hooks = VenueHooks(broker=lambda broker: TimedBroker(broker, submits))
        runtime = Runtime(settings(state_dir, count), live=False, observers=[], hooks=hooks)
        commits: list[tuple[float, float]] = []
        for method in ("record_decision", "record_intent", "record_risk"):
            setattr(runtime.journal, method, _timed(getattr(runtime.journal, method), commits))
        engine = await runtime.start()
        every: list[float] = []
        hedged: list[float] = []
        committing: list[float] = []
        for _ in range(turns):
            runtime.clock.advance(1.0)  # type: ignore[attr-defined]
            before = len(submits)
            woken = time.perf_counter()  # every market event of this step is in the state now
            await engine.turn()
            every.append(time.perf_counter() - woken)
            await asyncio.sleep(0)
            if len(submits) > before:
                handed = submits[before]
                hedged.append(handed - woken)
                committing.append(sum(b - a for a, b in commits if woken <= a and b <= handed))
        await runtime.shutdown()
        return every, hedged, committing


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile in milliseconds."""
    return float(np.percentile(np.asarray(values), q)) * 1e3


def main() -> None:
    """Print the latency table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    configure_logging(level="error", fmt="json")
    print(f"books of distinct option instruments over BTC, ETH, SOL; {args.turns} turns each")
    print("| instruments | latency (ms) | n | p50 | p99 | max |")
    print("|---:|---|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        every, hedged, committing = asyncio.run(measure(size, args.turns))
        for name, values in (
            ("market event to order handed to the venue", hedged),
            ("of which the journal's commits (decisions, intent)", committing),
            (
                "the same without the journal's commits",
                [h - c for h, c in zip(hedged, committing, strict=True)],
            ),
            ("whole turn (risk, decisions, sends, venue's own work)", every),
        ):
            if values:
                print(
                    f"| {size:,} | {name} | {len(values)} | {percentile(values, 50):.3f} | "
                    f"{percentile(values, 99):.3f} | {max(values) * 1e3:.3f} |"
                )
        print(f"| {size:,} | mean turn | {len(every)} | {statistics.fmean(every) * 1e3:.3f} | | |")


if __name__ == "__main__":
    main()
