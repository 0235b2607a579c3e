"""Real ccxt exchanges whose markets come from recorded venue payloads (tests only, no network).

`loaded_exchange(exchange_id)` builds a ccxt.pro instance, replaces its HTTP transport with a
table of recorded responses and runs ccxt's own ``load_markets`` on them, so that tests can feed
recorded positions, balances and tickers through ccxt's real parsers and then hedgebot's
converters. `catalog_of` turns the result into hedgebot's `MarketCatalog`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

from hedgebot.venues.ccxt.markets import MarketCatalog

DATA = Path(__file__).parents[1] / "data"
_EMPTY_BYBIT = {"retCode": 0, "result": {"list": []}}
_EMPTY_OKX = {"code": "0", "data": []}


def load_json(relative: str) -> Any:
    """A recorded payload from tests/data."""
    return json.loads((DATA / relative).read_text())


def market_routes(exchange_id: str) -> dict[str, Any]:
    """URL fragment -> recorded response for every request ccxt's load_markets makes."""
    if exchange_id == "deribit":
        return {
            "get_currencies": {"jsonrpc": "2.0", "result": []},
            "get_instruments": load_json("deribit/instruments.json"),
        }
    if exchange_id == "binanceusdm":
        return {"fapi/v1/exchangeInfo": load_json("binance_usdm/exchange_info_usdm.json")}
    if exchange_id == "binancecoinm":
        return {
            "dapi/v1/exchangeInfo": load_json("binance_coinm/exchange_info_delivery_coinm.json")
        }
    if exchange_id == "bybit":
        return {
            "status=PreLaunch": _EMPTY_BYBIT,
            "category=linear": load_json("bybit/instruments_linear.json"),
            "category=inverse": load_json("bybit/instruments_inverse.json"),
            "category=": _EMPTY_BYBIT,
        }
    if exchange_id == "okx":
        return {"instType=SWAP": load_json("okx/instruments_swap.json"), "instType=": _EMPTY_OKX}
    raise ValueError(exchange_id)


def install_transport(exchange: Any, routes: dict[str, Any], seen: list[str] | None = None) -> None:
    """Answer ccxt's HTTP requests from `routes` (first fragment contained in the URL wins)."""

    async def fetch(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        if seen is not None:
            seen.append(url)
        for fragment, response in routes.items():
            if fragment in url:
                return response
        raise AssertionError(f"no recorded response for {method} {url}")

    exchange.fetch = fetch


@cache
def loaded_exchange(exchange_id: str) -> Any:
    """A ccxt.pro exchange with markets loaded from recorded payloads (shared, parse-only)."""
    import ccxt.pro  # lazy: tests that do not need ccxt stay fast

    exchange = getattr(ccxt.pro, exchange_id)({"enableRateLimit": False})
    install_transport(exchange, market_routes(exchange_id))
    _run(exchange.load_markets())
    return exchange


def _run(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run to completion, also from inside a running event loop (in a worker thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def catalog_of(exchange_id: str, *, venue: str | None = None) -> MarketCatalog:
    """hedgebot's catalog of the recorded markets of `exchange_id`."""
    exchange = loaded_exchange(exchange_id)
    return MarketCatalog.from_ccxt(
        exchange.markets,
        venue=venue or exchange_id,
        exchange_id=exchange_id,
        precision_mode=int(exchange.precisionMode),
    )
