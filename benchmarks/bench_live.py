"""Live mode with a large option book against the local Deribit exchange: start-up time, feed
ingestion (messages per second, CPU per message, ticker-to-use lag) and peak resident size.

The exchange runs in a child process (its own CPU is not counted); this process is the daemon,
unmodified ccxt over HTTP and WebSocket on 127.0.0.1:

* start-up: from `Runtime.start()` (markets loaded, accounts reconciled, every instrument
  subscribed and quoted) to the engine ready to trade, for a book of ``--options`` options;
* ingestion: after the daemon stops, a `CcxtMarketFeed` of the same book streams for
  ``--seconds`` into a sink that only counts (the exchange's prices move on a 50 ms grid, so
  every ticker changes on every tick); msgs/s is what the exchange delivered, CPU/msg is this
  process's CPU time per message received (websocket, JSON, ccxt parsing, our quote), so
  1 / (CPU/msg) is the per-core capacity; lag is the sink's wall clock minus each ticker's
  timestamp, reported as p99 above p50 (the exchange stamps tickers with its simulated clock,
  offset from wall time by a constant, so only the spread is meaningful);
* peak RSS: this process's maximum resident size at the end (daemon and feed, ccxt loaded).

Run: ``python benchmarks/bench_live.py [--options 1000] [--seconds 20]``; prints a markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import resource
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from hedgebot.app import Runtime
from hedgebot.clock import WallClock
from hedgebot.config import load_settings
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.operator.logs import configure_logging
from hedgebot.venues.ccxt.feed import CcxtMarketFeed
from hedgebot_localvenues.deribit.cli import build_server
from hedgebot_localvenues.deribit.large_book import large_book

ROOT = Path(__file__).resolve().parents[1]
STEP_S = 0.05
"""Price grid of the exchange's market: every instrument's ticker changes on each 50 ms tick."""


def _serve(options: int, pipe: Connection) -> None:
    """Child process: the local exchange with the large book, until the parent says stop."""

    async def run() -> None:
        book = large_book(dt.datetime.now(dt.UTC), options=options)
        book = book.model_copy(update={"step_seconds": STEP_S})
        server = await build_server(book, port=0)
        async with server:
            pipe.send((server.url, server.ws_url))
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)

    configure_logging(level="error", fmt="json")
    asyncio.run(run())


class CountingSink:
    """A MarketSink that counts quotes and keeps their lag."""

    def __init__(self) -> None:
        self.quotes = 0
        self.lags_ms: list[int] = []

    def on_quote(self, quote: Quote) -> None:
        self.quotes += 1
        self.lags_ms.append(int(time.time() * 1000) - quote.timestamp_ms)

    def on_index(self, index: IndexPrice) -> None:
        """Index prices are not counted."""

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        """Connection changes are not counted."""


async def measure(url: str, ws_url: str, options: int, seconds: float) -> dict[str, float]:
    """Start the daemon on the book, then measure ingestion while it runs."""
    with tempfile.TemporaryDirectory() as state_dir:
        environ = {
            "HEDGEBOT__MODE": "live",
            "HEDGEBOT__STATE_DIR": state_dir,
            "HEDGEBOT__VENUES__DERIBIT__REST_URL": url,
            "HEDGEBOT__VENUES__DERIBIT__WS_URL": ws_url,
            "HEDGEBOT__VENUES__DERIBIT__API_KEY": "sim-main",
            "HEDGEBOT__VENUES__DERIBIT__API_SECRET": "sim-main-secret",
            "HEDGEBOT__HTTP__ENABLED": "false",
        }
        settings = load_settings(ROOT / "config" / "deribit-local.toml", environ=environ)
        runtime = Runtime(settings, live=True, observers=[])
        started = time.perf_counter()
        await runtime.start()
        startup_s = time.perf_counter() - started
        quoted = sum(1 for key in runtime.state.quotes if key.symbol.count("-") == 3)
        await runtime.shutdown()
        feed = CcxtMarketFeed.from_settings(
            "deribit", settings.venues["deribit"], clock=WallClock()
        )
        keys = [i.key for i in await feed.instruments()]
        sink = CountingSink()
        task = asyncio.create_task(feed.stream(keys, sink))
        await asyncio.sleep(2.0)  # subscribed and streaming before the window opens
        count0, cpu0, wall0 = sink.quotes, time.process_time(), time.perf_counter()
        lag_from = len(sink.lags_ms)
        await asyncio.sleep(seconds)
        count, cpu, wall = (
            sink.quotes - count0,
            time.process_time() - cpu0,
            time.perf_counter() - wall0,
        )
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await feed.close()
    lags = np.asarray(sink.lags_ms[lag_from:] or [0])
    return {
        "startup_s": startup_s,
        "options_quoted": quoted,
        "msgs": count,
        "msgs_per_s": count / wall,
        "cpu_us_per_msg": cpu / max(count, 1) * 1e6,
        "lag_p50_ms": float(np.percentile(lags, 50)),
        "lag_p99_ms": float(np.percentile(lags, 99)),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--options", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    configure_logging(level="error", fmt="json")
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(args.options, child), daemon=True)
    server.start()
    try:
        url, ws_url = parent.recv()
        result = asyncio.run(measure(url, ws_url, args.options, args.seconds))
    finally:
        parent.send("stop")
        server.join(10)
    print(f"book: {args.options} options on the local Deribit exchange (live mode, ccxt)")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| start-up to ready (s) | {result['startup_s']:.2f} |")
    print(f"| options quoted at ready | {result['options_quoted']} |")
    print(f"| ingestion (msgs/s delivered) | {result['msgs_per_s']:,.0f} |")
    print(f"| CPU per message (µs) | {result['cpu_us_per_msg']:.1f} |")
    print(f"| capacity per core (msgs/s) | {1e6 / result['cpu_us_per_msg']:,.0f} |")
    spread = result["lag_p99_ms"] - result["lag_p50_ms"]
    print(f"| ticker-to-use lag, p99 above p50 (ms) | {spread:.0f} |")
    print(f"| peak RSS (MB) | {result['peak_rss_mb']:.0f} |")


if __name__ == "__main__":
    main()
