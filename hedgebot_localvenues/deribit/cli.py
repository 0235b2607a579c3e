"""Command line and composition of the local Deribit exchange (``hedgebot exchange-sim``).

Owns `build_server` (a `SimulatedExchange` seeded from a `SimBook`, behind a
`DeribitSimServer`), `serve` (run until cancelled, announcing the bound URLs) and `main`.
Options: ``--host`` (127.0.0.1), ``--port`` (8765; 0 picks a free port), ``--seed``,
``--speed`` (simulated seconds per real second), ``--book`` (TOML, else the built-in book),
``--faults`` (enable the ``/_sim/faults`` control route) and ``--rate-limits`` (enforce
Deribit's credit limits).

It must not import ccxt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hedgebot.model.errors import ConfigError
from hedgebot_localvenues.deribit.book_config import DEFAULT_BOOK, SimBook, live_book, load_book
from hedgebot_localvenues.deribit.ratelimit import CreditPools

if TYPE_CHECKING:
    from hedgebot.venues.sim import MarketSettings
    from hedgebot_localvenues.deribit.server import DeribitSimServer

VENUE = "deribit"
EX_CONFIG = 78


async def build_server(
    book: SimBook = DEFAULT_BOOK,
    *,
    seed: int = 1,
    speed: float = 1.0,
    host: str = "127.0.0.1",
    port: int = 0,
    faults_http: bool = False,
    tick_s: float = 0.05,
    heartbeat_min_s: float = 10.0,
    market: MarketSettings | None = None,
    credits: CreditPools | None = None,
) -> DeribitSimServer:
    """A server (not yet started) in front of a fresh simulated exchange seeded from `book`."""
    # Imported here so that `--help` and bad-option exits stay fast (numpy, scipy, aiohttp).
    from hedgebot.clock import SimulatedClock
    from hedgebot.venues.sim import AccountSeed, MarketSettings, SimulatedExchange
    from hedgebot_localvenues.deribit.server import DeribitSimServer

    settings = market or MarketSettings()
    settings = replace(settings, seed=seed)
    if book.start_ms is not None:
        settings = replace(settings, start_ms=book.start_ms)
    if book.step_seconds is not None:
        settings = replace(settings, step_seconds=book.step_seconds)
    if book.latency_ms is not None:
        settings = replace(settings, latency_ms=book.latency_ms)
    clock = SimulatedClock(settings.start_ms)
    seeds = {
        name: AccountSeed(
            collateral=dict(account.collateral),
            positions=[(p.symbol, p.amount, p.price) for p in account.positions],
        )
        for name, account in book.accounts.items()
    }
    try:
        exchange = SimulatedExchange(
            venue=VENUE, clock=clock, market=settings, accounts=seeds, symbols=book.symbols
        )
    except ValueError as error:
        raise ConfigError(f"book: {error}") from None
    return DeribitSimServer(
        exchange=exchange,
        clock=clock,
        instruments=await exchange.instruments(),
        credentials=book.credentials(),
        host=host,
        port=port,
        speed=speed,
        tick_s=tick_s,
        activation_ms=settings.latency_ms,
        faults_http=faults_http,
        heartbeat_min_s=heartbeat_min_s,
        credits=credits,
    )


def announce(server: DeribitSimServer) -> None:
    """Print the URLs a client needs (one line, flushed: scripts wait for it)."""
    print(f"deribit-sim listening: rest {server.url} ws {server.ws_url}", flush=True)


async def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 1,
    speed: float = 1.0,
    book: SimBook = DEFAULT_BOOK,
    faults_http: bool = False,
    credits: CreditPools | None = None,
    ready: Callable[[DeribitSimServer], None] = announce,
) -> None:
    """Run the local exchange until cancelled."""
    server = await build_server(
        book,
        seed=seed,
        speed=speed,
        host=host,
        port=port,
        faults_http=faults_http,
        credits=credits,
    )
    async with server:
        ready(server)
        await asyncio.Event().wait()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hedgebot exchange-sim",
        description="A local exchange speaking Deribit's API v2 (REST and websocket) on top of "
        "hedgebot's simulated venue, for end-to-end tests through unmodified ccxt.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated market")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second (default 1)"
    )
    parser.add_argument("--book", type=Path, help="TOML book: symbols, accounts, keys, positions")
    parser.add_argument(
        "--faults", action="store_true", help="enable the POST /_sim/faults control route"
    )
    parser.add_argument(
        "--rate-limits",
        action="store_true",
        help="enforce Deribit's credit limits (20/s burst 100; orders 5/s burst 20)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run until interrupted; 78 on a bad book or option."""
    args = _parser().parse_args(argv)
    if args.speed <= 0:
        print("--speed must be positive", file=sys.stderr)
        return EX_CONFIG
    try:
        now = dt.datetime.now(dt.UTC)
        book = live_book(now) if args.book is None else load_book(args.book)
        if book.start is None:
            book = book.model_copy(update={"start": now.replace(microsecond=0)})
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EX_CONFIG
    try:
        asyncio.run(
            _run_until_signal(
                serve(
                    host=args.host,
                    port=args.port,
                    seed=args.seed,
                    speed=args.speed,
                    book=book,
                    faults_http=args.faults,
                    credits=CreditPools() if args.rate_limits else None,
                )
            )
        )
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return EX_CONFIG
    except KeyboardInterrupt:
        return 0
    return 0


async def _run_until_signal(work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task
