"""What one scenario of the per-venue campaign runs on: options on the local Deribit exchange,
the BTC hedge perpetual on the local Binance USDⓈ-M, Bybit or OKX exchange.

Owns `CAMPAIGN_VENUES` (the venues ``--venue`` accepts), `VENUE_KINDS` (the fault kinds the local
hedge exchanges support: their `FaultPlan` drops, loses, delays, rate-limits and rejects REST
requests and drops websockets; fill chaos and kills are the harness's, a price gap Deribit's
clock), `CREATE_PATHS` and `REJECTS` (where ccxt places an order on each venue and the venue's
"insufficient margin" refusal), `venue_rig` (both exchanges on ephemeral 127.0.0.1 ports, the
options book scaled by the scenario, Deribit's clock behind by a drawn price gap) and
`venue_environ` (the venue's cross-venue config overridden for a short scenario, as HEDGEBOT__*
variables, for the daemon in-process or as a subprocess).

The band and maximum order of the cross-venue configs (BTC: 0.25 and 5) are `rig.LIMITS`'s, so
the invariants apply unchanged. It must not check anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from hedgebot_localvenues.binance_usdm.cli import build_server as build_binance
from hedgebot_localvenues.binance_usdm.server import BinanceUsdmServer
from hedgebot_localvenues.bybit.cli import build_server as build_bybit
from hedgebot_localvenues.bybit.server import BybitServer
from hedgebot_localvenues.deribit.cli import build_server as build_deribit
from hedgebot_localvenues.okx.cli import build_server as build_okx
from hedgebot_localvenues.okx.server import OkxServer
from tests.e2e.chaos.rig import exchange_start, scenario_market
from tests.e2e.chaos.scenarios import FaultKind, Scenario
from tests.support.cross_venue import (
    BASIS,
    CONFIGS,
    CrossVenue,
    HedgeVenue,
    cross_environ,
    deribit_index,
    options_book,
)

CAMPAIGN_VENUES = ("deribit", "binanceusdm", "bybit", "okx")
"""``--venue``: where the hedge perpetual is (deribit: the original single-venue campaign)."""

VENUE_KINDS: tuple[FaultKind, ...] = (
    FaultKind.WS_DROP,
    FaultKind.RATE_LIMIT,
    FaultKind.DELAY,
    FaultKind.LOST_HANG,
    FaultKind.LOST_CLOSE,
    FaultKind.REJECT,
    FaultKind.DUP_FILLS,
    FaultKind.REORDER,
    FaultKind.PRICE_GAP,
    FaultKind.KILL_RESTART,
    FaultKind.KILL_AT_CREATE,
)
"""The kinds a scenario on a hedge venue draws from (see `venue_faults` for what each does).
Not here: partial fills (the local ledger has unlimited liquidity at the touch), stale feeds,
error frames, notification timing, read spacing and lost cancel confirmations (Deribit's
JSON-RPC session only)."""

CREATE_PATHS: dict[HedgeVenue, str] = {
    "binanceusdm": "/fapi/v1/order",
    "bybit": "/v5/order/create",
    "okx": "/api/v5/trade/batch-orders",
}
"""Where ccxt 4.5.90 places an order on each hedge venue (OKX: one order in a batch)."""

REJECTS: dict[HedgeVenue, tuple[int, str]] = {
    "binanceusdm": (-2019, "Margin is insufficient."),
    "bybit": (110007, "Available balance insufficient"),
    "okx": (51008, "Order failed. Insufficient USDT margin in account"),
}
"""Each venue's refusal for want of margin: what a reject scenario answers a create with."""

CALLS = 40.0
"""BTC calls in the options book before scaling (about +20 BTC of delta: several hedge orders
of at most 5 BTC, so orders keep coming while faults are armed)."""

COLLATERAL_BTC = 200.0
"""Deribit collateral of the options account: enough margin for the largest short book (with
10 BTC the local exchange liquidates 50 short calls at once, and the scenario has no book)."""

HedgeServer = BinanceUsdmServer | BybitServer | OkxServer


@asynccontextmanager
async def venue_rig(exchange: HedgeVenue, scenario: Scenario) -> AsyncIterator[CrossVenue]:
    """Both local exchanges for one scenario, in real time, on ephemeral ports."""
    start = exchange_start(scenario, dt.datetime.now(dt.UTC))
    calls = round(CALLS * scenario.book_scale * 10) / 10
    book, call = options_book(start, calls=calls)
    main = book.accounts["main"].model_copy(update={"collateral": {"BTC": COLLATERAL_BTC}})
    book = book.model_copy(update={"accounts": {"main": main}})
    deribit = await build_deribit(
        book,
        seed=scenario.seed,
        speed=1.0,
        port=0,
        faults_http=True,
        market=scenario_market(scenario),
    )
    async with deribit:

        def source(asset: str) -> float | None:
            return deribit_index(deribit, asset)

        hedge: HedgeServer
        if exchange == "okx":
            hedge = build_okx(seed=scenario.seed, port=0, price_source=source, basis=BASIS)
        elif exchange == "bybit":
            hedge = build_bybit(seed=scenario.seed, port=0, price_source=source, basis=BASIS)
        else:
            hedge = build_binance(seed=scenario.seed, port=0, price_source=source, basis=BASIS)
        async with hedge:
            yield CrossVenue(deribit=deribit, hedge=hedge, exchange=exchange, book=book, call=call)


def venue_config(rig: CrossVenue) -> Path:
    """The venue's cross-venue config file."""
    return CONFIGS[rig.exchange]


def venue_environ(rig: CrossVenue, state_dir: Path) -> dict[str, str]:
    """HEDGEBOT__* overrides of the venue's cross-venue config for one short live scenario."""
    hedge = f"HEDGEBOT__VENUES__{rig.venue.upper()}__"
    return {
        **cross_environ(rig, state_dir),
        "HEDGEBOT__LOOP_INTERVAL_S": "0.25",
        "HEDGEBOT__VENUES__DERIBIT__RECONCILE_INTERVAL_S": "5",
        "HEDGEBOT__VENUES__DERIBIT__KEEPALIVE_MS": "2000",
        f"{hedge}RECONCILE_INTERVAL_S": "5",
        "HEDGEBOT__GUARDS__MAX_DATA_AGE_S": "5",
        "HEDGEBOT__LOG__LEVEL": "info",
        "HEDGEBOT__LOG__FORMAT": "json",
        "HEDGEBOT__HEDGES__BTC__COOLDOWN_S": "0.5",
        "HEDGEBOT__HEDGES__BTC__ORDER_TIMEOUT_S": "4",
    }
