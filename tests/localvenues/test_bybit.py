"""The local Bybit v5 exchange through unmodified ccxt (``ccxt.pro.bybit``): Bybit's field
sets (checked against recorded answers), its v5 signing, its order rules and error codes, and
hedgebot's gateway on top of it."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from hedgebot.clock import WallClock
from hedgebot.config import VenueSettings
from hedgebot.model.errors import OrderOutcomeUnknown, OrderRejected
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import OrderRequest, OrderStatus, Side
from hedgebot.venues.ccxt import CcxtBroker
from hedgebot.venues.ccxt.exchange_factory import override_endpoints
from hedgebot_localvenues.bybit.cli import MAIN_KEY, build_server
from hedgebot_localvenues.bybit.server import BybitServer
from hedgebot_localvenues.common.faults import Fault

DATA = Path(__file__).resolve().parents[1] / "data" / "bybit"
PERP = "BTC/USDT:USDT"
KEY = InstrumentKey("bybit", "BTCUSDT")


@pytest.fixture
async def server() -> AsyncIterator[BybitServer]:
    local = build_server(port=0, tick_s=0.05)
    async with local:
        yield local


def ccxt_bybit(url: str, ws_url: str, key: tuple[str, str] | None = MAIN_KEY) -> Any:
    """Unmodified ``ccxt.pro.bybit`` with every URL pointed at the local exchange."""
    import ccxt.pro

    config: dict[str, Any] = {"timeout": 5000}
    if key is not None:
        config |= {"apiKey": key[0], "secret": key[1]}
    exchange = ccxt.pro.bybit(config)
    exchange.urls["api"] = override_endpoints(
        exchange.urls["api"], exchange_id="bybit", rest_url=url, ws_url=ws_url
    )
    exchange.urls.pop("test", None)
    return exchange


@pytest.fixture
async def exchange(server: BybitServer) -> AsyncIterator[Any]:
    client = ccxt_bybit(server.url, server.ws_url)
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


def _recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text())


async def test_answers_carry_bybits_recorded_field_sets(exchange: Any) -> None:
    """instruments-info rows, the ticker stream, position rows and the wallet have at least the
    fields of Bybit's recorded answers."""
    info = await exchange.public_get_v5_market_instruments_info({"category": "linear"})
    recorded = _recorded("instruments_linear.json")["result"]["list"][0]
    assert set(recorded) <= set(info["result"]["list"][0])
    assert set(recorded["lotSizeFilter"]) <= set(info["result"]["list"][0]["lotSizeFilter"])
    ticker = await exchange.watch_ticker(PERP)
    assert set(_recorded("ws_ticker_linear.json")["data"]) <= set(ticker["info"])
    await exchange.create_order(PERP, "limit", "sell", 0.01, ticker["bid"] * 0.99)
    positions = await exchange.private_get_v5_position_list(
        {"category": "linear", "settleCoin": "USDT"}
    )
    recorded_position = _recorded("positions.json")["result"]["list"][0]
    assert set(recorded_position) - {"mmrSysUpdatedTime", "leverageSysUpdatedTime"} <= set(
        positions["result"]["list"][0]
    )
    wallet = await exchange.private_get_v5_account_wallet_balance({"accountType": "UNIFIED"})
    recorded_wallet = _recorded("ccxt_wallet_balance_unified_2025-01-14.json")["result"]["list"][0]
    assert set(recorded_wallet) - {"coin"} <= set(wallet["result"]["list"][0])


async def test_ccxt_reads_units_and_limits_from_instruments_info(exchange: Any) -> None:
    """A Bybit linear contract is one coin; minNotionalValue is ccxt's limits.cost.min."""
    market = exchange.market(PERP)
    assert market["linear"] is True
    assert market["contractSize"] == 1.0
    assert market["limits"]["cost"]["min"] == 5.0
    assert market["precision"]["amount"] == 0.001


async def test_a_wrong_secret_is_refused_with_bybits_sign_error(server: BybitServer) -> None:
    client = ccxt_bybit(server.url, server.ws_url, key=(MAIN_KEY[0], "not-the-secret"))
    try:
        with pytest.raises(Exception, match="10004"):
            await client.fetch_balance()
    finally:
        await client.close()


async def test_order_rules_answer_bybits_codes(exchange: Any) -> None:
    """Below the minimum value: 110094; reduce-only growing a position: 110017; a duplicate
    open orderLinkId: 110072 (ccxt maps each to InvalidOrder)."""
    import ccxt

    bid = (await exchange.watch_ticker(PERP))["bid"]
    with pytest.raises(ccxt.InvalidOrder, match="110094"):
        await exchange.create_order(PERP, "limit", "buy", 0.001, 4000.0)
    with pytest.raises(ccxt.InvalidOrder, match="110017"):
        await exchange.create_order(PERP, "limit", "buy", 0.01, bid, {"reduceOnly": True})
    low = round(bid * 0.9, 1)
    await exchange.create_order(PERP, "limit", "buy", 0.01, low, {"clientOrderId": "dup-1"})
    with pytest.raises(ccxt.InvalidOrder, match="110072"):
        await exchange.create_order(PERP, "limit", "buy", 0.01, low, {"clientOrderId": "dup-1"})


async def _broker(server: BybitServer) -> CcxtBroker:
    settings = VenueSettings(
        driver="ccxt",
        exchange="bybit",
        rest_url=server.url,
        ws_url=server.ws_url,
        api_key=SecretStr(MAIN_KEY[0]),
        api_secret=SecretStr(MAIN_KEY[1]),
    )
    return await CcxtBroker.open(
        account="hedging",
        venue="bybit",
        settings=settings,
        clock=WallClock(),
        client_id_prefix="hb1-",
        create_timeout_s=3.0,
    )


async def test_a_create_acknowledged_with_ids_only_is_an_open_order(server: BybitServer) -> None:
    """Bybit answers a create with orderId and orderLinkId only: hedgebot takes it as accepted
    (not as bad data), and the fill arrives by lookup."""
    broker = await _broker(server)
    try:
        mark = server.ledger.marks["BTCUSDT"]
        update = await broker.submit(
            OrderRequest(
                client_id="hb1-ack",
                account="hedging",
                key=KEY,
                side=Side.SELL,
                amount=0.5,
                limit_price=round(mark * 0.99, 1),
            )
        )
        found = await broker.lookup("hb1-ack", KEY)
    finally:
        await broker.close()
    assert update.status is OrderStatus.OPEN
    assert update.venue_order_id
    assert found is not None
    assert found.status is OrderStatus.FILLED


async def test_below_the_minimum_value_is_refused_before_send_and_lost_answers_are_found(
    server: BybitServer,
) -> None:
    broker = await _broker(server)
    try:
        mark = server.ledger.marks["BTCUSDT"]
        tiny = OrderRequest(
            client_id="hb1-tiny",
            account="hedging",
            key=KEY,
            side=Side.BUY,
            amount=0.001,
            limit_price=4000.0,
        )
        with pytest.raises(OrderRejected, match=r"order value .* below the venue minimum of 5"):
            await broker.submit(tiny)
        assert server.requests.order_creates() == []
        server.faults.arm(Fault(kind="lose_answer", path="/v5/order/create", method="POST"))
        lost = OrderRequest(
            client_id="hb1-lost",
            account="hedging",
            key=KEY,
            side=Side.SELL,
            amount=0.2,
            limit_price=round(mark * 0.99, 1),
        )
        with pytest.raises(OrderOutcomeUnknown):
            await broker.submit(lost)
        found = await broker.lookup("hb1-lost", KEY)
        fills = await broker.fills_of("hb1-lost", KEY)
    finally:
        await broker.close()
    assert found is not None
    assert found.filled_amount == pytest.approx(0.2)
    assert [(f.amount, f.side) for f in fills] == [(0.2, Side.SELL)]
    assert [r.outcome for r in server.requests.order_creates()] == ["lost"]


async def test_the_command_announces_its_urls_serves_ccxt_and_stops_on_sigint() -> None:
    """``python -m hedgebot_localvenues.bybit --port 0`` (what ``hedgebot exchange-sim --venue
    bybit`` runs) prints rest_url and ws_url, answers ccxt, and exits 0 on SIGINT."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hedgebot_localvenues.bybit",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        urls: dict[str, str] = {}
        while len(urls) < 2:
            line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
            assert line, "the command exited before announcing its URLs"
            if " = " in line:
                name, _, value = line.strip().partition(": ")[2].partition(" = ")
                urls[name] = value
        client = ccxt_bybit(urls["rest_url"], urls["ws_url"], key=None)
        try:
            ticker = await client.watch_ticker(PERP)
        finally:
            await client.close()
        assert 0 < ticker["bid"] < ticker["ask"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0
