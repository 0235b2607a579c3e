"""The local Binance USDⓈ-M exchange through unmodified ccxt (``ccxt.pro.binanceusdm``):
Binance's field sets (checked against recorded answers), its signing, its order rules and
error codes, one-way and hedge mode, and hedgebot's gateway on top of it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hedgebot.clock import WallClock
from hedgebot.config import VenueSettings
from hedgebot.model.errors import OrderOutcomeUnknown, OrderRejected
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import OrderRequest, OrderStatus, Side
from hedgebot.venues.ccxt import CcxtBroker
from hedgebot.venues.ccxt.exchange_factory import override_endpoints
from hedgebot_localvenues.binance_usdm.cli import HEDGE_MODE_KEY, MAIN_KEY, build_server
from hedgebot_localvenues.binance_usdm.server import BinanceUsdmServer
from hedgebot_localvenues.common.faults import Fault

DATA = Path(__file__).resolve().parents[1] / "data" / "binance_usdm"
PERP = "BTC/USDT:USDT"


@pytest.fixture
async def server() -> AsyncIterator[BinanceUsdmServer]:
    local = build_server(port=0, tick_s=0.05)
    async with local:
        yield local


def ccxt_binance(server: BinanceUsdmServer, key: tuple[str, str] = MAIN_KEY) -> Any:
    """Unmodified ``ccxt.pro.binanceusdm`` with every URL pointed at `server`."""
    import ccxt.pro

    exchange = ccxt.pro.binanceusdm({"apiKey": key[0], "secret": key[1], "timeout": 5000})
    exchange.urls["api"] = override_endpoints(
        exchange.urls["api"], exchange_id="binanceusdm", rest_url=server.url, ws_url=server.ws_url
    )
    exchange.urls.pop("test", None)
    return exchange


@pytest.fixture
async def exchange(server: BinanceUsdmServer) -> AsyncIterator[Any]:
    client = ccxt_binance(server)
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


def _recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text())


async def test_answers_carry_binances_recorded_field_sets(exchange: Any) -> None:
    """exchangeInfo symbols, positionRisk rows, the account and the book-ticker event have at
    least the fields of Binance's recorded answers."""
    info = await exchange.fapipublic_get_exchangeinfo()
    recorded_symbol = _recorded("exchange_info_usdm.json")["symbols"][0]
    assert set(recorded_symbol) <= set(info["symbols"][0])
    account = await exchange.fapiprivatev3_get_account()
    recorded_account = _recorded("account_info_v2.json")
    assert set(recorded_account) - {"positions", "canTrade", "canDeposit", "canWithdraw"} <= set(
        account
    )
    assert set(recorded_account["assets"][0]) <= set(account["assets"][0])
    price = float((await exchange.watch_bids_asks([PERP]))[PERP]["ask"])
    await exchange.create_order(PERP, "limit", "sell", 0.01, price * 0.99)
    rows = await exchange.fapiprivatev3_get_positionrisk()
    recorded_row = _recorded("position_risk_hedge.json")[0]
    v2_only = {"leverage", "maxNotionalValue", "marginType", "isAutoAddMargin"}
    assert set(recorded_row) - v2_only <= set(rows[0])
    book = (await exchange.watch_bids_asks([PERP]))[PERP]["info"]
    assert set(_recorded("ws_book_ticker_btcusdt_2024-08-08.json")["data"]) == set(book)


async def test_ccxt_reads_units_and_limits_from_exchange_info(exchange: Any) -> None:
    """One USDⓈ-M contract is one coin; the minimum order value is ccxt's limits.cost.min."""
    market = exchange.market(PERP)
    assert market["linear"] is True
    assert market["contractSize"] == 1.0
    assert market["limits"]["cost"]["min"] == 100.0
    assert market["precision"]["amount"] == 0.001
    assert market["precision"]["price"] == 0.1


async def test_a_wrong_secret_is_refused_with_binances_signature_error(
    server: BinanceUsdmServer,
) -> None:
    client = ccxt_binance(server, key=(MAIN_KEY[0], "not-the-secret"))
    try:
        with pytest.raises(Exception, match="-1022"):
            await client.fetch_balance()
    finally:
        await client.close()
    assert server.ledger.accounts["main"].orders == {}


async def test_hedge_mode_needs_a_position_side_and_refuses_reduce_only(
    server: BinanceUsdmServer,
) -> None:
    """Binance's dual-side mode: an order without positionSide is refused (-4061), reduceOnly is
    refused (-1106); with positionSide the legs are kept apart."""
    client = ccxt_binance(server, key=HEDGE_MODE_KEY)
    try:
        await client.load_markets()
        mode = await client.fetch_position_mode(PERP)
        assert mode["hedged"] is True
        price = (await client.watch_bids_asks([PERP]))[PERP]["ask"]
        with pytest.raises(Exception, match="-4061"):
            await client.create_order(PERP, "limit", "buy", 0.01, price * 1.01)
        await client.create_order(
            PERP, "limit", "buy", 0.01, price * 1.01, {"positionSide": "LONG"}
        )
        await client.create_order(
            PERP, "limit", "sell", 0.02, price * 0.99, {"positionSide": "SHORT"}
        )
        with pytest.raises(Exception, match="-1106"):
            await client.create_order(
                PERP,
                "limit",
                "sell",
                0.01,
                price * 0.99,
                {"positionSide": "LONG", "reduceOnly": True},
            )
        positions = await client.fetch_positions([PERP])
    finally:
        await client.close()
    sides = sorted((p["info"]["positionSide"], float(p["info"]["positionAmt"])) for p in positions)
    assert sides == [("LONG", 0.01), ("SHORT", -0.02)]


async def test_reduce_only_may_not_grow_a_one_way_position(exchange: Any) -> None:
    price = (await exchange.watch_bids_asks([PERP]))[PERP]["ask"]
    with pytest.raises(Exception, match="-2022"):
        await exchange.create_order(PERP, "limit", "buy", 0.01, price * 1.01, {"reduceOnly": True})


async def _broker(server: BinanceUsdmServer) -> CcxtBroker:
    from pydantic import SecretStr

    settings = VenueSettings(
        driver="ccxt",
        exchange="binanceusdm",
        rest_url=server.url,
        ws_url=server.ws_url,
        api_key=SecretStr(MAIN_KEY[0]),
        api_secret=SecretStr(MAIN_KEY[1]),
    )
    return await CcxtBroker.open(
        account="hedging",
        venue="binance",
        settings=settings,
        clock=WallClock(),
        client_id_prefix="hb1-",
        create_timeout_s=3.0,
    )


KEY = InstrumentKey("binance", "BTCUSDT")


async def test_an_order_below_the_minimum_value_is_refused_before_it_is_sent(
    server: BinanceUsdmServer,
) -> None:
    """0.001 BTC (about 60 USDT) is below BTCUSDT's 100 USDT: hedgebot refuses it with the
    rule and the size that would pass, and the venue never sees it."""
    broker = await _broker(server)
    try:
        mark = server.ledger.marks["BTCUSDT"]
        request = OrderRequest(
            client_id="hb1-small",
            account="hedging",
            key=KEY,
            side=Side.BUY,
            amount=0.001,
            limit_price=round(mark * 1.01, 1),
        )
        with pytest.raises(OrderRejected, match=r"order value .* below the venue minimum of 100"):
            await broker.submit(request)
    finally:
        await broker.close()
    assert server.requests.order_creates() == []


async def test_a_lost_order_answer_is_found_by_client_id_and_not_sent_twice(
    server: BinanceUsdmServer,
) -> None:
    """The venue places the order and the answer is lost: hedgebot's lookup by client id
    (``origClientOrderId``) finds the filled order; exactly one create reached the venue."""
    broker = await _broker(server)
    try:
        mark = server.ledger.marks["BTCUSDT"]
        server.faults.arm(Fault(kind="lose_answer", path="/fapi/v1/order", method="POST"))
        request = OrderRequest(
            client_id="hb1-lost-1",
            account="hedging",
            key=KEY,
            side=Side.SELL,
            amount=0.5,
            limit_price=round(mark * 0.99, 1),
        )
        with pytest.raises(OrderOutcomeUnknown):
            await broker.submit(request)
        found = await broker.lookup("hb1-lost-1", KEY)
        fills = await broker.fills_of("hb1-lost-1", KEY)
    finally:
        await broker.close()
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert found.filled_amount == pytest.approx(0.5)
    assert [(f.client_id, f.amount, f.side) for f in fills] == [("hb1-lost-1", 0.5, Side.SELL)]
    creates = server.requests.order_creates()
    assert [r.outcome for r in creates] == ["lost"]
    leg = server.ledger.accounts["main"].positions[("BTCUSDT", "BOTH")]
    assert leg.amount == pytest.approx(-0.5)


async def test_the_user_data_stream_reports_orders_to_ccxt(
    server: BinanceUsdmServer, exchange: Any
) -> None:
    """watch_orders over the listen-key stream sees our order's ORDER_TRADE_UPDATE."""
    price = (await exchange.watch_bids_asks([PERP]))[PERP]["ask"]
    watching = asyncio.create_task(exchange.watch_orders(PERP))
    await asyncio.wait_for(server.user_stream_opened.wait(), 5)
    await exchange.create_order(
        PERP, "limit", "buy", 0.01, price * 1.01, {"clientOrderId": "hb1-ws"}
    )
    orders = await asyncio.wait_for(watching, 5)
    assert orders[-1]["clientOrderId"] == "hb1-ws"


async def test_a_hedge_mode_account_is_refused_at_start_up_with_one_line(
    server: BinanceUsdmServer,
) -> None:
    """Binance dual-side position mode would reject every hedge: the broker refuses to open,
    naming the setting to change, before any order."""
    from pydantic import SecretStr

    from hedgebot.model.errors import ConfigError

    settings = VenueSettings(
        driver="ccxt",
        exchange="binanceusdm",
        rest_url=server.url,
        ws_url=server.ws_url,
        api_key=SecretStr(HEDGE_MODE_KEY[0]),
        api_secret=SecretStr(HEDGE_MODE_KEY[1]),
    )
    with pytest.raises(ConfigError, match=r"hedge mode .* switch the account to one-way") as info:
        await CcxtBroker.open(
            account="hedging",
            venue="binance",
            settings=settings,
            clock=WallClock(),
            client_id_prefix="hb1-",
            symbols=["BTCUSDT"],
        )
    assert "\n" not in str(info.value)
    assert "/fapi/v1/positionSide/dual" in server.requests.paths()
    assert server.requests.order_creates() == []


async def test_the_command_announces_its_urls_serves_ccxt_and_stops_on_sigint() -> None:
    """``python -m hedgebot_localvenues.binance_usdm --port 0`` (what ``hedgebot exchange-sim
    --venue binanceusdm`` runs) prints rest_url and ws_url, answers ccxt, and exits 0 on SIGINT."""
    import signal
    import sys

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hedgebot_localvenues.binance_usdm",
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
        import ccxt.pro

        client = ccxt.pro.binanceusdm({"timeout": 5000})
        client.urls["api"] = override_endpoints(
            client.urls["api"],
            exchange_id="binanceusdm",
            rest_url=urls["rest_url"],
            ws_url=urls["ws_url"],
        )
        try:
            book = await client.watch_bids_asks([PERP])
        finally:
            await client.close()
        assert 0 < book[PERP]["bid"] < book[PERP]["ask"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0
