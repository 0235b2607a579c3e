"""Composition and command line of the local Bybit v5 exchange (``hedgebot exchange-sim --venue
bybit``).

Owns `build_server` (the shared `Ledger` with Bybit's BTCUSDT and ETHUSDT perpetuals and the
account ``main``: key ``sim-main``, secret ``sim-main-secret``, 1,000,000 USDT, a unified
account in one-way mode; local test keys) and `main`. Options: ``--host`` (127.0.0.1),
``--port`` (8767; 0 picks a free port), ``--seed``. It must not import ccxt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hedgebot_localvenues.bybit.server import BybitServer

DEFAULT_PORT = 8767
MAIN_KEY = ("sim-main", "sim-main-secret")


def build_server(
    *,
    seed: int = 1,
    host: str = "127.0.0.1",
    port: int = 0,
    wallet: float = 1_000_000.0,
    price_source: Callable[[str], float | None] | None = None,
    basis: float = 0.0,
    tick_s: float = 0.2,
) -> BybitServer:
    """A server (not yet started) with Bybit's default contracts and the ``main`` account."""
    from hedgebot_localvenues.binance_usdm.ledger import Ledger
    from hedgebot_localvenues.bybit.server import CONTRACTS, ApiKey, BybitServer
    from hedgebot_localvenues.common.prices import PricePath

    ledger = Ledger(dict(CONTRACTS))
    ledger.add_account("main", wallet=wallet)
    return BybitServer(
        ledger=ledger,
        prices=PricePath(seed=seed, source=price_source, basis=basis),
        keys=[ApiKey(account="main", key=MAIN_KEY[0], secret=MAIN_KEY[1])],
        host=host,
        port=port,
        tick_s=tick_s,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hedgebot exchange-sim --venue bybit",
        description="Local Bybit v5 exchange (linear perpetuals) for unmodified ccxt (127.0.0.1).",
    )
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--seed", type=int, default=1)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run until SIGINT/SIGTERM, announcing the URLs on stdout."""
    args = _parser().parse_args(argv)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        server = build_server(seed=args.seed, host=args.host, port=args.port)
        async with server:
            print(f"bybit local exchange: rest_url = {server.url}", flush=True)
            print(f"bybit local exchange: ws_url = {server.ws_url}", flush=True)
            await stop.wait()

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"hedgebot exchange-sim: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0
