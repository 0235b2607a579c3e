"""Composition and command line of the local OKX v5 exchange (``hedgebot exchange-sim --venue
okx``).

Owns `build_server` (the shared `Ledger` with OKX's BTC-USDT-SWAP and ETH-USDT-SWAP and the
account ``main``: key ``sim-main``, secret ``sim-main-secret``, passphrase ``sim-main-pass``,
1,000,000 USDT, account level 2 (spot and futures mode) in net position mode; local test keys)
and `main`. Options: ``--host`` (127.0.0.1), ``--port`` (8768; 0 picks a free port),
``--seed``, ``--pos-mode`` (net_mode or long_short_mode), ``--acct-lv`` (1-4). It must not
import ccxt.
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
    from hedgebot_localvenues.okx.server import OkxServer

DEFAULT_PORT = 8768
MAIN_KEY = ("sim-main", "sim-main-secret", "sim-main-pass")
"""Key, secret and passphrase of the account ``main`` (local test values)."""


def build_server(
    *,
    seed: int = 1,
    host: str = "127.0.0.1",
    port: int = 0,
    wallet: float = 1_000_000.0,
    price_source: Callable[[str], float | None] | None = None,
    basis: float = 0.0,
    tick_s: float = 0.2,
    pos_mode: str = "net_mode",
    acct_lv: str = "2",
) -> OkxServer:
    """A server (not yet started) with OKX's default swaps and the ``main`` account."""
    from hedgebot_localvenues.binance_usdm.ledger import Ledger
    from hedgebot_localvenues.common.prices import PricePath
    from hedgebot_localvenues.okx.markets import SWAPS
    from hedgebot_localvenues.okx.server import AccountConfig, ApiKey, OkxServer

    ledger = Ledger({inst_id: swap.contract() for inst_id, swap in SWAPS.items()})
    ledger.add_account("main", wallet=wallet)
    return OkxServer(
        ledger=ledger,
        prices=PricePath(seed=seed, source=price_source, basis=basis),
        keys=[ApiKey(account="main", key=MAIN_KEY[0], secret=MAIN_KEY[1], passphrase=MAIN_KEY[2])],
        configs={"main": AccountConfig(uid="7001", acct_lv=acct_lv, pos_mode=pos_mode)},
        host=host,
        port=port,
        tick_s=tick_s,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hedgebot exchange-sim --venue okx",
        description="Local OKX v5 exchange (USDT swaps) for unmodified ccxt (127.0.0.1).",
    )
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pos-mode", default="net_mode", choices=["net_mode", "long_short_mode"])
    parser.add_argument("--acct-lv", default="2", choices=["1", "2", "3", "4"])
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
        server = build_server(
            seed=args.seed,
            host=args.host,
            port=args.port,
            pos_mode=args.pos_mode,
            acct_lv=args.acct_lv,
        )
        async with server:
            print(f"okx local exchange: rest_url = {server.url}", flush=True)
            print(f"okx local exchange: ws_url = {server.ws_url}", flush=True)
            await stop.wait()

    try:
        asyncio.run(run())
    except OSError as exc:
        print(f"hedgebot exchange-sim: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0
