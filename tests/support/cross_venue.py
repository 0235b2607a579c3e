"""Harness for the cross-venue end-to-end runs: the local Deribit exchange holding an options
book and the local Binance USDⓈ-M exchange quoting the same market (its index is Deribit's
index times ``1 + basis``), and config/cross-venue-local.toml pointed at both."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from hedgebot.config import Settings, load_settings
from hedgebot_localvenues.binance_usdm.cli import MAIN_KEY
from hedgebot_localvenues.binance_usdm.cli import build_server as build_binance
from hedgebot_localvenues.binance_usdm.server import BinanceUsdmServer
from hedgebot_localvenues.deribit.book_config import SeedPosition, SimAccount, SimBook, live_book
from hedgebot_localvenues.deribit.cli import build_server as build_deribit
from hedgebot_localvenues.deribit.server import DeribitSimServer

CONFIG = Path(__file__).resolve().parents[2] / "config" / "cross-venue-local.toml"
BASIS = 0.0008
"""Binance's perpetual trades 8 bp above Deribit's index in these runs."""


@dataclass
class CrossVenue:
    """Both running local exchanges and the options book seeded on Deribit."""

    deribit: DeribitSimServer
    binance: BinanceUsdmServer
    book: SimBook
    call: str


def options_book(now: dt.datetime) -> tuple[SimBook, str]:
    """Deribit's default live book cut down to 20 long BTC calls (about +10 BTC of delta)."""
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
                positions=[SeedPosition(symbol=call, amount=20.0)],
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
async def cross_venue(*, basis: float = BASIS) -> AsyncIterator[CrossVenue]:
    """Both local exchanges on ephemeral ports, in real time."""
    book, call = options_book(dt.datetime.now(dt.UTC))
    deribit = await build_deribit(book, seed=5, speed=1.0, port=0, faults_http=True)
    async with deribit:
        binance = build_binance(
            port=0, price_source=lambda asset: deribit_index(deribit, asset), basis=basis
        )
        async with binance:
            yield CrossVenue(deribit=deribit, binance=binance, book=book, call=call)


def cross_settings(venues: CrossVenue, state_dir: Path, *, mode: str = "live") -> Settings:
    """config/cross-venue-local.toml pointed at both local exchanges; live: keys set; paper:
    no key, the options book and collateral from the Deribit book."""
    environ = {
        "HEDGEBOT__MODE": mode,
        "HEDGEBOT__STATE_DIR": str(state_dir),
        "HEDGEBOT__VENUES__DERIBIT__REST_URL": venues.deribit.url,
        "HEDGEBOT__VENUES__DERIBIT__WS_URL": venues.deribit.ws_url,
        "HEDGEBOT__VENUES__DERIBIT__STALE_AFTER_S": "3",
        "HEDGEBOT__VENUES__BINANCE__REST_URL": venues.binance.url,
        "HEDGEBOT__VENUES__BINANCE__WS_URL": venues.binance.ws_url,
        "HEDGEBOT__VENUES__BINANCE__STALE_AFTER_S": "3",
    }
    if mode == "paper":
        seed = venues.book.accounts["main"]
        positions = [{"symbol": p.symbol, "amount": p.amount} for p in seed.positions]
        environ["HEDGEBOT__ACCOUNTS__OPTIONS__POSITIONS"] = json.dumps(positions)
        environ["HEDGEBOT__ACCOUNTS__OPTIONS__COLLATERAL"] = json.dumps(seed.collateral)
        return load_settings(CONFIG, environ=environ)
    environ |= {
        "HEDGEBOT__VENUES__DERIBIT__API_KEY": "sim-main",
        "HEDGEBOT__VENUES__DERIBIT__API_SECRET": "sim-main-secret",
        "HEDGEBOT__VENUES__BINANCE__API_KEY": MAIN_KEY[0],
        "HEDGEBOT__VENUES__BINANCE__API_SECRET": MAIN_KEY[1],
    }
    return load_settings(CONFIG, environ=environ)
