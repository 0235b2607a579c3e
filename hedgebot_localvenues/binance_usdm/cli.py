"""Composition and command line of the local Binance USDⓈ-M exchange
(``hedgebot exchange-sim --venue binanceusdm``).

Owns `build_server` (a `Ledger` with the default contracts and accounts behind a
`BinanceUsdmServer`, prices from a seeded random walk or from another venue's index) and `main`.
Options: ``--host`` (127.0.0.1), ``--port`` (8766; 0 picks a free port), ``--seed``,
``--hedge-mode`` (the ``main`` account in Binance's dual-side position mode).

The default accounts: ``main`` (key ``sim-main``, secret ``sim-main-secret``, 1,000,000 USDT)
and ``hedge-mode`` (key ``sim-hedge``, secret ``sim-hedge-secret``, dual-side positions). They
are local test keys, never a real venue's. It must not import ccxt.
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
    from hedgebot_localvenues.binance_usdm.server import BinanceUsdmServer

DEFAULT_PORT = 8766
MAIN_KEY = ("sim-main", "sim-main-secret")
HEDGE_MODE_KEY = ("sim-hedge", "sim-hedge-secret")


def build_server(
    *,
    seed: int = 1,
    host: str = "127.0.0.1",
    port: int = 0,
    wallet: float = 1_000_000.0,
    hedge_mode: bool = False,
    price_source: Callable[[str], float | None] | None = None,
    basis: float = 0.0,
    tick_s: float = 0.2,
) -> BinanceUsdmServer:
    """A server (not yet started) with the default contracts and the two default accounts."""
    from hedgebot_localvenues.binance_usdm.ledger import Ledger
    from hedgebot_localvenues.binance_usdm.server import (
        ApiKey,
        BinanceUsdmServer,
        default_contracts,
    )
    from hedgebot_localvenues.common.prices import PricePath

    ledger = Ledger(default_contracts())
    ledger.add_account("main", wallet=wallet, dual_side=hedge_mode)
    ledger.add_account("hedge-mode", wallet=wallet, dual_side=True)
    keys = [
        ApiKey(account="main", key=MAIN_KEY[0], secret=MAIN_KEY[1]),
        ApiKey(account="hedge-mode", key=HEDGE_MODE_KEY[0], secret=HEDGE_MODE_KEY[1]),
    ]
    prices = PricePath(seed=seed, source=price_source, basis=basis)
    return BinanceUsdmServer(
        ledger=ledger, prices=prices, keys=keys, host=host, port=port, tick_s=tick_s
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hedgebot exchange-sim --venue binanceusdm",
        description="Local Binance USDⓈ-M futures exchange for unmodified ccxt (127.0.0.1 only).",
    )
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hedge-mode", action="store_true", help="main account in hedge mode")
    return parser


async def serve(args: argparse.Namespace, stop: asyncio.Event) -> None:
    """Run until `stop` is set, announcing the bound URLs on stdout."""
    server = build_server(
        seed=args.seed, host=args.host, port=args.port, hedge_mode=args.hedge_mode
    )
    async with server:
        print(f"binanceusdm local exchange: rest_url = {server.url}", flush=True)
        print(f"binanceusdm local exchange: ws_url = {server.ws_url}", flush=True)
        print(f"keys: {MAIN_KEY[0]} / {MAIN_KEY[1]} (main)", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run until SIGINT/SIGTERM."""
    args = _parser().parse_args(argv)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await serve(args, stop)

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"hedgebot exchange-sim: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0
