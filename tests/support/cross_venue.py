"""Harness for the cross-venue end-to-end runs: the local Deribit exchange holding an options
book and a local perpetuals exchange (Binance USDⓈ-M, Bybit or OKX) quoting the same market
(its index is Deribit's index times ``1 + basis``), and config/cross-venue-local.toml,
config/cross-venue-bybit-local.toml or config/cross-venue-okx-local.toml pointed at both."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from hedgebot.config import Settings, load_settings
from hedgebot_localvenues.binance_usdm.cli import MAIN_KEY
from hedgebot_localvenues.binance_usdm.cli import build_server as build_binance
from hedgebot_localvenues.binance_usdm.ledger import Position
from hedgebot_localvenues.binance_usdm.server import BinanceUsdmServer
from hedgebot_localvenues.bybit.cli import build_server as build_bybit
from hedgebot_localvenues.bybit.server import BybitServer
from hedgebot_localvenues.deribit.book_config import SeedPosition, SimAccount, SimBook, live_book
from hedgebot_localvenues.deribit.cli import build_server as build_deribit
from hedgebot_localvenues.deribit.server import DeribitSimServer
from hedgebot_localvenues.okx.cli import MAIN_KEY as OKX_KEY
from hedgebot_localvenues.okx.cli import build_server as build_okx
from hedgebot_localvenues.okx.server import OkxServer

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
BASIS = 0.0008
"""The hedge venue's perpetual trades 8 bp above Deribit's index in these runs."""
HedgeVenue = Literal["binanceusdm", "bybit", "okx"]
VENUE_NAMES: dict[HedgeVenue, str] = {"binanceusdm": "binance", "bybit": "bybit", "okx": "okx"}
"""The config's venue name of each hedge exchange."""
CONFIGS: dict[HedgeVenue, Path] = {
    "binanceusdm": CONFIG_DIR / "cross-venue-local.toml",
    "bybit": CONFIG_DIR / "cross-venue-bybit-local.toml",
    "okx": CONFIG_DIR / "cross-venue-okx-local.toml",
}
HEDGE_SYMBOLS: dict[HedgeVenue, str] = {
    "binanceusdm": "BTCUSDT",
    "bybit": "BTCUSDT",
    "okx": "BTC-USDT-SWAP",
}
"""The BTC hedge instrument on each hedge exchange."""


@dataclass
class CrossVenue:
    """Both running local exchanges and the options book seeded on Deribit."""

    deribit: DeribitSimServer
    hedge: BinanceUsdmServer | BybitServer | OkxServer
    exchange: HedgeVenue
    book: SimBook
    call: str

    @property
    def venue(self) -> str:
        """The hedge venue's name in the config."""
        return VENUE_NAMES[self.exchange]

    def hedge_position(self) -> Position:
        """The hedge account's BTC position on the hedge venue (one-way), in BTC (the local
        exchanges' shared ledger keeps coin; OKX's wire speaks contracts of 0.01 BTC)."""
        return self.hedge.ledger.accounts["main"].position(HEDGE_SYMBOLS[self.exchange], "BOTH")


def options_book(now: dt.datetime, calls: float = 20.0) -> tuple[SimBook, str]:
    """Deribit's default live book cut down to 20 long BTC calls (about +10 BTC of delta; `calls`
    of them, short if negative)."""
    base = live_book(now)
    call = next(s for s in base.symbols if s.startswith("BTC-") and s.endswith("-C"))
    book = SimBook(
        start=base.start,
        symbols=["BTC-PERPETUAL", call],
        accounts={
            "main": SimAccount(
                api_key="sim-main",
                api_secret=SecretStr("sim-main-secret"),
                collateral={"BTC": 10.0},
                positions=[SeedPosition(symbol=call, amount=calls)],
            )
        },
    )
    return book, call


def deribit_index(server: DeribitSimServer, underlying: str) -> float | None:
    """Deribit's index of `underlying` now (from its own perpetual's ticker)."""
    symbol = f"{underlying}-PERPETUAL"
    if symbol not in server.instrument_names:
        return None
    index = server.state.ticker(server.state.instrument(symbol))["index_price"]
    assert isinstance(index, int | float)
    return float(index)


@asynccontextmanager
async def cross_venue(
    exchange: HedgeVenue = "binanceusdm", *, basis: float = BASIS
) -> AsyncIterator[CrossVenue]:
    """Both local exchanges on ephemeral ports, in real time."""
    book, call = options_book(dt.datetime.now(dt.UTC))
    deribit = await build_deribit(book, seed=5, speed=1.0, port=0, faults_http=True)
    async with deribit:

        def source(asset: str) -> float | None:
            return deribit_index(deribit, asset)

        hedge: BinanceUsdmServer | BybitServer | OkxServer
        if exchange == "okx":
            hedge = build_okx(port=0, price_source=source, basis=basis)
        elif exchange == "bybit":
            hedge = build_bybit(port=0, price_source=source, basis=basis)
        else:
            hedge = build_binance(port=0, price_source=source, basis=basis)
        async with hedge:
            yield CrossVenue(deribit=deribit, hedge=hedge, exchange=exchange, book=book, call=call)


def cross_settings(venues: CrossVenue, state_dir: Path, *, mode: str = "live") -> Settings:
    """The cross-venue config pointed at both local exchanges; live: keys set; paper: no key,
    the options book and collateral from the Deribit book."""
    return load_settings(CONFIGS[venues.exchange], environ=cross_environ(venues, state_dir, mode))


def cross_environ(venues: CrossVenue, state_dir: Path, mode: str = "live") -> dict[str, str]:
    """The HEDGEBOT__* overrides `cross_settings` applies to the venue's cross-venue config (the
    same mapping serves a daemon started as a subprocess)."""
    prefix = f"HEDGEBOT__VENUES__{venues.venue.upper()}__"
    environ = {
        "HEDGEBOT__MODE": mode,
        "HEDGEBOT__STATE_DIR": str(state_dir),
        "HEDGEBOT__HTTP__ENABLED": "false",
        "HEDGEBOT__VENUES__DERIBIT__REST_URL": venues.deribit.url,
        "HEDGEBOT__VENUES__DERIBIT__WS_URL": venues.deribit.ws_url,
        "HEDGEBOT__VENUES__DERIBIT__STALE_AFTER_S": "3",
        f"{prefix}REST_URL": venues.hedge.url,
        f"{prefix}WS_URL": venues.hedge.ws_url,
        f"{prefix}STALE_AFTER_S": "3",
    }
    if mode == "paper":
        seed = venues.book.accounts["main"]
        positions = [{"symbol": p.symbol, "amount": p.amount} for p in seed.positions]
        environ["HEDGEBOT__ACCOUNTS__OPTIONS__POSITIONS"] = json.dumps(positions)
        environ["HEDGEBOT__ACCOUNTS__OPTIONS__COLLATERAL"] = json.dumps(seed.collateral)
        return environ
    environ |= {
        "HEDGEBOT__VENUES__DERIBIT__API_KEY": "sim-main",
        "HEDGEBOT__VENUES__DERIBIT__API_SECRET": "sim-main-secret",
        f"{prefix}API_KEY": MAIN_KEY[0],
        f"{prefix}API_SECRET": MAIN_KEY[1],
    }
    if venues.exchange == "okx":
        environ[f"{prefix}API_KEY"], environ[f"{prefix}API_SECRET"] = OKX_KEY[0], OKX_KEY[1]
        environ[f"{prefix}API_PASSWORD"] = OKX_KEY[2]
    return environ
