"""The local OKX v5 exchange through unmodified ccxt (``ccxt.pro.okx``): OKX's field sets
(checked against recorded answers), its signing with the passphrase, contracts as the amount
unit, its order rules and error codes, its websocket login and private channels, and hedgebot's
gateway on top of it (account modes, tdMode, lookups by clOrdId)."""

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
from hedgebot.model.errors import ConfigError, OrderOutcomeUnknown
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import OrderRequest, OrderStatus, Side
from hedgebot.venues.ccxt import CcxtBroker
from hedgebot.venues.ccxt.exchange_factory import override_endpoints
from hedgebot_localvenues.common.faults import Fault
from hedgebot_localvenues.okx.cli import MAIN_KEY, build_server
from hedgebot_localvenues.okx.server import OkxServer

DATA = Path(__file__).resolve().parents[1] / "data" / "okx"
SWAP = "BTC/USDT:USDT"
INST = "BTC-USDT-SWAP"
KEY = InstrumentKey("okx", INST)


@pytest.fixture
async def server() -> AsyncIterator[OkxServer]:
    local = build_server(port=0, tick_s=0.05)
    async with local:
        yield local


def ccxt_okx(
    url: str, ws_url: str, key: tuple[str, str, str] | None = MAIN_KEY, **options: Any
) -> Any:
    """Unmodified ``ccxt.pro.okx`` with every URL pointed at the local exchange."""
    import ccxt.pro

    config: dict[str, Any] = {"timeout": 5000, **options}
    if key is not None:
        config |= {"apiKey": key[0], "secret": key[1], "password": key[2]}
    exchange = ccxt.pro.okx(config)
    exchange.urls["api"] = override_endpoints(
        exchange.urls["api"], exchange_id="okx", rest_url=url, ws_url=ws_url
    )
    exchange.urls.pop("test", None)
    return exchange


@pytest.fixture
async def exchange(server: OkxServer) -> AsyncIterator[Any]:
    client = ccxt_okx(server.url, server.ws_url)
    try:
        await client.load_markets()
        yield client
    finally:
        await client.close()


def _recorded(name: str) -> Any:
    return json.loads((DATA / name).read_text())


async def test_answers_carry_okxs_recorded_field_sets(exchange: Any) -> None:
    """public/instruments rows, account/positions rows and the account/balance answer have at
    least the fields of OKX's recorded answers."""
    rows = (await exchange.public_get_public_instruments({"instType": "SWAP"}))["data"]
    recorded = next(r for r in _recorded("instruments_swap.json")["data"] if r["instId"] == INST)
    served = next(r for r in rows if r["instId"] == INST)
    assert set(recorded) <= set(served)
    assert {k: served[k] for k in ("ctVal", "lotSz", "minSz", "tickSz", "ctType")} == {
        k: recorded[k] for k in ("ctVal", "lotSz", "minSz", "tickSz", "ctType")
    }
    ticker = await exchange.watch_ticker(SWAP)
    await exchange.create_order(SWAP, "limit", "sell", 3, ticker["bid"] * 0.99)
    positions = (await exchange.private_get_account_positions())["data"]
    recorded_position = _recorded("positions_long_short.json")["data"][0]
    assert set(recorded_position) - {"baseBal", "quoteBorrowed", "quoteInterest"} - {
        "spotInUseAmt",
        "spotInUseCcy",
    } <= set(positions[0])
    balance = (await exchange.private_get_account_balance())["data"][0]
    recorded_balance = _recorded("account_balance.json")["data"][0]
    assert set(recorded_balance) - {"notionalUsdForBorrow", "notionalUsdForFutures"} - {
        "notionalUsdForOption",
        "notionalUsdForSwap",
    } <= set(balance)
    assert set(recorded_balance["details"][0]) - {
        "maxSpotInUseAmt",
        "openAvgPx",
        "spotBal",
        "spotCopyTradingEq",
        "spotUpl",
        "spotUplRatio",
        "totalPnl",
        "totalPnlRatio",
    } <= set(balance["details"][0])


async def test_ccxt_reads_contracts_of_a_hundredth_of_a_coin(
    exchange: Any, server: OkxServer
) -> None:
    """ccxt amounts on OKX swaps are contracts (ctVal 0.01 BTC): an order of 12.5 contracts
    is 0.125 BTC, and the position reads back as 12.5 contracts."""
    market = exchange.market(SWAP)
    assert market["id"] == INST
    assert market["linear"] is True
    assert market["contractSize"] == 0.01
    assert market["precision"]["amount"] == 0.01
    assert market["limits"]["amount"]["min"] == 0.01
    ask = (await exchange.watch_ticker(SWAP))["ask"]
    await exchange.create_order(SWAP, "limit", "buy", 12.5, ask * 1.01, {"clientOrderId": "u1"})
    leg = server.ledger.accounts["main"].position(INST, "BOTH")
    assert leg.amount == pytest.approx(0.125)
    (position,) = await exchange.fetch_positions()
    assert (position["contracts"], position["side"], position["marginMode"]) == (
        12.5,
        "long",
        "cross",
    )
    (create,) = server.requests.order_creates()
    assert create.path == "/api/v5/trade/batch-orders", "ccxt places OKX orders in a batch"
    assert (create.params["sz"], create.params["tdMode"], create.params["clOrdId"]) == (
        "12.5",
        "cross",
        "u1",
    )


async def test_signing_needs_the_right_secret_passphrase_and_clock(server: OkxServer) -> None:
    """A wrong passphrase: 50105; a wrong secret: 50113; a clock 60 s off: 50102 (ccxt maps
    them to AuthenticationError and InvalidNonce)."""
    import ccxt

    cases = [
        ((MAIN_KEY[0], MAIN_KEY[1], "wrong"), {}, ccxt.AuthenticationError, "50105"),
        ((MAIN_KEY[0], "wrong", MAIN_KEY[2]), {}, ccxt.AuthenticationError, "50113"),
        (MAIN_KEY, {"options": {"timeDifference": 60_000}}, ccxt.InvalidNonce, "50102"),
    ]
    for key, options, error, code in cases:
        client = ccxt_okx(server.url, server.ws_url, key=key, **options)
        try:
            with pytest.raises(error, match=code):
                await client.fetch_balance()
        finally:
            await client.close()


async def test_order_rules_answer_okxs_codes(exchange: Any, server: OkxServer) -> None:
    """Off the lot size: 51121; beyond the margin: 51008; a duplicate open clOrdId: 51016; a
    cancel of a filled order: 51402; an unknown clOrdId: 51603; a rate limit: 50011 with HTTP
    429 (ccxt: InvalidOrder, InsufficientFunds, OrderNotFound, RateLimitExceeded)."""
    import ccxt

    ticker = await exchange.watch_ticker(SWAP)
    low = round(ticker["bid"] * 0.9, 1)
    base = {"instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": str(low)}
    with pytest.raises(ccxt.InvalidOrder, match="51121"):
        await exchange.private_post_trade_order({**base, "sz": "0.015"})
    with pytest.raises(ccxt.InsufficientFunds, match="51008"):
        await exchange.create_order(SWAP, "limit", "buy", 5_000_000, low)
    await exchange.create_order(SWAP, "limit", "buy", 1, low, {"clientOrderId": "dup1"})
    with pytest.raises(ccxt.InvalidOrder, match="51016"):
        await exchange.create_order(SWAP, "limit", "buy", 1, low, {"clientOrderId": "dup1"})
    filled = await exchange.create_order(SWAP, "limit", "buy", 1, ticker["ask"] * 1.01)
    with pytest.raises(ccxt.OrderNotFound, match="51402"):
        await exchange.cancel_order(filled["id"], SWAP)
    with pytest.raises(ccxt.OrderNotFound, match="51603"):
        await exchange.fetch_order("", SWAP, {"clOrdId": "never"})
    server.faults.arm(Fault(kind="rate_limit", path="/account/balance"))
    with pytest.raises(ccxt.RateLimitExceeded, match="50011"):
        await exchange.fetch_balance()


async def test_a_position_keeps_its_margin_mode(exchange: Any) -> None:
    """An isolated position is traded with tdMode isolated; a cross order beside it is refused
    (assumed: OKX would open a second position, see README)."""
    import ccxt

    ask = (await exchange.watch_ticker(SWAP))["ask"]
    await exchange.create_order(SWAP, "limit", "buy", 2, ask * 1.01, {"tdMode": "isolated"})
    (position,) = await exchange.fetch_positions()
    assert position["marginMode"] == "isolated"
    assert position["info"]["margin"] != ""
    with pytest.raises(ccxt.BadRequest, match="tdMode"):
        await exchange.create_order(SWAP, "limit", "sell", 1, ask * 0.99, {"tdMode": "cross"})
    await exchange.create_order(SWAP, "limit", "sell", 1, ask * 0.99, {"tdMode": "isolated"})
    (position,) = await exchange.fetch_positions()
    assert position["contracts"] == 1


async def test_private_channels_need_a_login_with_the_passphrase(server: OkxServer) -> None:
    """The orders channel streams our fills (ccxt's watch_my_trades reads them from it) after a
    login signed with the passphrase; a wrong passphrase is refused with 60024."""
    import ccxt

    client = ccxt_okx(server.url, server.ws_url)
    wrong = ccxt_okx(server.url, server.ws_url, key=(MAIN_KEY[0], MAIN_KEY[1], "wrong"))
    try:
        await client.load_markets()
        wrong.set_markets(client.markets, client.currencies)  # REST would refuse it first
        with pytest.raises(ccxt.AuthenticationError, match="60024"):
            await asyncio.wait_for(wrong.watch_orders(), 10)
    finally:
        await wrong.close()
    try:
        trades = asyncio.create_task(client.watch_my_trades())
        balance = await asyncio.wait_for(client.watch_balance(), 10)
        await asyncio.wait_for(server.private_stream_opened.wait(), 10)
        bid = (await client.watch_ticker(SWAP))["bid"]
        await client.create_order(SWAP, "limit", "sell", 4, bid * 0.99, {"clientOrderId": "ws1"})
        (trade,) = await asyncio.wait_for(trades, 10)
        positions = await asyncio.wait_for(client.watch_positions(), 10)
    finally:
        await client.close()
    assert balance["USDT"]["total"] == pytest.approx(1_000_000)
    assert (trade["amount"], trade["side"], trade["info"]["clOrdId"]) == (4.0, "sell", "ws1")
    assert [(p["contracts"], p["side"]) for p in positions] == [(4.0, "short")]


def _settings(server: OkxServer) -> VenueSettings:
    return VenueSettings(
        driver="ccxt",
        exchange="okx",
        rest_url=server.url,
        ws_url=server.ws_url,
        api_key=SecretStr(MAIN_KEY[0]),
        api_secret=SecretStr(MAIN_KEY[1]),
        api_password=SecretStr(MAIN_KEY[2]),
    )


async def _broker(server: OkxServer) -> CcxtBroker:
    return await CcxtBroker.open(
        account="hedging",
        venue="okx",
        settings=_settings(server),
        clock=WallClock(),
        client_id_prefix="hb1",
        symbols=[INST],
        create_timeout_s=3.0,
    )


@pytest.mark.parametrize(
    ("pos_mode", "acct_lv", "says"),
    [("long_short_mode", "2", "long/short position mode"), ("net_mode", "1", "Spot mode")],
)
async def test_account_modes_hedgebot_cannot_trade_are_refused_at_start_up(
    pos_mode: str, acct_lv: str, says: str
) -> None:
    """Long/short mode (every order would need posSide) and Spot mode (no swaps) stop the
    broker before any order, with one line naming the setting."""
    local = build_server(port=0, tick_s=0.05, pos_mode=pos_mode, acct_lv=acct_lv)
    async with local:
        with pytest.raises(ConfigError, match=says) as refused:
            await _broker(local)
        assert local.requests.order_creates() == []
    assert "\n" not in str(refused.value)


async def test_the_gateway_sends_the_positions_margin_mode_and_finds_lost_orders_by_clordid(
    server: OkxServer,
) -> None:
    """With an isolated BTC position on the account, hedgebot's orders carry tdMode isolated;
    an order whose answer is lost is found with OKX's order query by clOrdId, with its fill."""
    mark = server.ledger.marks[INST]
    server.ledger.seed_position("main", INST, 0.5, mark)
    server.margin_modes[("main", INST)] = "isolated"
    broker = await _broker(server)
    try:
        await broker.snapshot()
        ack = await broker.submit(
            OrderRequest(
                client_id="hb1ack",
                account="hedging",
                key=KEY,
                side=Side.SELL,
                amount=0.2,
                limit_price=round(mark * 0.99, 1),
            )
        )
        server.faults.arm(Fault(kind="lose_answer", path="/trade/batch-orders", method="POST"))
        with pytest.raises(OrderOutcomeUnknown):
            await broker.submit(
                OrderRequest(
                    client_id="hb1lost",
                    account="hedging",
                    key=KEY,
                    side=Side.SELL,
                    amount=0.1,
                    limit_price=round(mark * 0.99, 1),
                )
            )
        found = await broker.lookup("hb1lost", KEY)
        never = await broker.lookup("hb1never", KEY)
        fills = await broker.fills_of("hb1lost", KEY)
        snapshot = await broker.snapshot()
    finally:
        await broker.close()
    assert ack.status is OrderStatus.OPEN, "OKX acknowledges a create with ids only"
    creates = server.requests.order_creates()
    assert [r.params["tdMode"] for r in creates] == ["isolated", "isolated"]
    assert [r.params["sz"] for r in creates] == ["20", "10"], "0.2 and 0.1 BTC in contracts"
    assert found is not None
    assert found.status is OrderStatus.FILLED
    assert found.filled_amount == pytest.approx(0.1)
    assert never is None
    queried = [
        r.params.get("clOrdId")
        for r in server.requests.all()
        if r.method == "GET" and r.path == "/api/v5/trade/order"
    ]
    assert queried[:2] == ["hb1lost", "hb1never"], "looked up with OKX's order query by clOrdId"
    assert [f.side for f in fills] == [Side.SELL]
    assert fills[0].amount == pytest.approx(0.1)
    (position,) = snapshot.positions
    assert position.amount == pytest.approx(0.2), "0.5 - 0.2 - 0.1 BTC"


async def test_the_command_announces_its_urls_serves_ccxt_and_stops_on_sigint() -> None:
    """``python -m hedgebot_localvenues.okx --port 0`` (what ``hedgebot exchange-sim --venue
    okx`` runs) prints rest_url and ws_url, answers ccxt, and exits 0 on SIGINT."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hedgebot_localvenues.okx",
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
        client = ccxt_okx(urls["rest_url"], urls["ws_url"], key=None)
        try:
            ticker = await client.watch_ticker(SWAP)
        finally:
            await client.close()
        assert 0 < ticker["bid"] < ticker["ask"]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 30)
    assert code == 0
