"""The local Deribit exchange over REST, through unmodified ccxt (ccxt.pro.deribit)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import aiohttp
import ccxt
import pytest
from pydantic import SecretStr

from hedgebot_localvenues.deribit import DeribitSimServer, SimAccount, SimBook
from tests.support.local_deribit import TEST_BOOK, ccxt_deribit, running_sim

PERP = "BTC/USD:BTC"
CALL = "BTC/USD:BTC-260327-60000-C"


async def _through_the_book(exchange: Any) -> float:
    """A buy limit half a percent above the ask: it fills however the market moves meanwhile."""
    ask = (await exchange.fetch_ticker(PERP))["ask"]
    return float(round(ask * 1.005 * 2) / 2)


async def _marketable_buy(exchange: Any, amount: float, label: str) -> dict[str, Any]:
    price = await _through_the_book(exchange)
    order: dict[str, Any] = await exchange.create_order(
        PERP, "limit", "buy", amount, price, {"label": label}
    )
    return order


async def test_load_markets_gives_deribit_units(exchange: Any) -> None:
    """ccxt sees inverse USD-face perps of contract size 10 and coin-settled options in coin."""
    perp, call = exchange.market(PERP), exchange.market(CALL)
    assert (perp["swap"], perp["inverse"], perp["contractSize"]) == (True, True, 10.0)
    assert perp["precision"]["amount"] == 10.0
    assert perp["settle"] == "BTC"
    assert (call["option"], call["inverse"], call["strike"], call["optionType"]) == (
        True,
        True,
        60000.0,
        "call",
    )
    assert call["limits"]["amount"]["min"] == 0.1
    assert call["expiryDatetime"].startswith("2026-03-27T08:00")
    assert exchange.market("BTC/USDC:USDC")["linear"] is True
    assert exchange.market("BTC/USD:BTC-260327")["future"] is True


async def test_tickers_carry_marks_funding_greeks_and_move(
    server: DeribitSimServer, exchange: Any
) -> None:
    """Perp tickers carry funding and index, option tickers IV and greeks, and prices move."""
    first = await exchange.fetch_ticker(PERP)
    assert first["bid"] < first["ask"]
    assert first["info"]["funding_8h"] is not None
    assert abs(first["indexPrice"] / first["markPrice"] - 1) < 0.01
    option = (await exchange.fetch_ticker(CALL))["info"]
    assert 10 < option["mark_iv"] < 300
    assert 0 < option["greeks"]["delta"] < 1
    assert option["underlying_price"] > 0
    assert option["underlying_index"] == "BTC-27MAR26"
    funding = await exchange.fetch_funding_rate(PERP)
    assert abs(funding["fundingRate"]) <= 0.005
    tickers = await exchange.fetch_tickers([PERP, "BTC/USD:BTC-260327"])
    assert set(tickers) == {PERP, "BTC/USD:BTC-260327"}
    server.advance(30)
    later = await exchange.fetch_ticker(PERP)
    assert later["timestamp"] > first["timestamp"]
    assert later["markPrice"] != first["markPrice"]


async def test_order_book_and_index_price(exchange: Any) -> None:
    """The book has the requested depth, best prices first, and the index is served by name."""
    book = await exchange.fetch_order_book(PERP, 3)
    assert len(book["bids"]) == 3
    assert len(book["asks"]) == 3
    assert book["bids"][0][0] > book["bids"][1][0]
    assert book["asks"][0][0] < book["asks"][1][0]
    assert book["bids"][0][0] < book["asks"][0][0]
    index = await exchange.public_get_get_index_price({"index_name": "btc_usd"})
    assert index["result"]["index_price"] > 0


async def test_labelled_order_fills_and_moves_the_position(exchange: Any) -> None:
    """A marketable order with a label fills; the label finds it; trades and positions agree."""
    order = await _marketable_buy(exchange, 1000, "hedge-42")
    assert order["status"] == "closed"
    assert order["filled"] == 1000
    found = await exchange.private_get_get_order_state_by_label(
        {"currency": "BTC", "label": "hedge-42"}
    )
    assert [o["order_id"] for o in found["result"]] == [order["id"]]
    assert found["result"][0]["order_state"] == "filled"
    trades = await exchange.fetch_my_trades(PERP)
    assert [(t["order"], t["amount"], t["takerOrMaker"]) for t in trades] == [
        (order["id"], 1000, "taker")
    ]
    positions = {p["symbol"]: p for p in await exchange.fetch_positions()}
    perp = positions[PERP]
    assert perp["contracts"] == 1000
    coin = perp["info"]["size_currency"]
    assert coin == pytest.approx(1000 / perp["markPrice"], rel=1e-9)
    assert perp["info"]["delta"] == pytest.approx(coin, rel=1e-6)
    assert positions[CALL]["contracts"] == 20


async def test_option_orders_trade_coin_and_report_premium_adjusted_delta(exchange: Any) -> None:
    """Options trade in coin at coin premiums; position delta is Black-76 delta minus premium."""
    ticker = (await exchange.fetch_ticker(CALL))["info"]
    price = round(ticker["best_ask_price"] * 1.05 / 0.0005) * 0.0005
    order = await exchange.create_order(CALL, "limit", "buy", 0.5, price, {"label": "opt"})
    assert (order["status"], order["filled"]) == ("closed", 0.5)
    trade = (await exchange.fetch_my_trades(CALL))[0]
    assert trade["fee"]["currency"] == "BTC"
    assert trade["price"] < 1  # premium in coin
    position = next(p for p in await exchange.fetch_positions() if p["symbol"] == CALL)
    assert position["contracts"] == 20.5
    info = position["info"]
    mark = (await exchange.fetch_ticker(CALL))["info"]
    expected = 20.5 * (mark["greeks"]["delta"] - mark["mark_price"])
    assert info["delta"] == pytest.approx(expected, abs=0.05)


async def test_balance_reports_deribit_margin_fields(exchange: Any) -> None:
    """fetch_balance exposes equity, margins and DeltaTotal including a fresh futures position."""
    before = await exchange.fetch_balance()
    btc_before = _btc_summary(before)
    assert btc_before["delta_total"] == pytest.approx(btc_before["options_delta"])
    await _marketable_buy(exchange, 5000, "delta-up")
    perp = next(p for p in await exchange.fetch_positions() if p["symbol"] == PERP)
    balance = await exchange.fetch_balance()
    btc = _btc_summary(balance)
    for field in ("equity", "margin_balance", "initial_margin", "maintenance_margin"):
        assert isinstance(btc[field], float)
    assert btc["initial_margin"] > btc_before["initial_margin"]
    assert btc["delta_total"] - btc["options_delta"] == pytest.approx(
        5000 / perp["markPrice"], rel=1e-3
    )
    assert btc["options_delta"] > 0
    assert balance["BTC"]["total"] == pytest.approx(btc["equity"])
    summary = await exchange.private_get_get_account_summary({"currency": "BTC"})
    assert summary["result"]["equity"] == pytest.approx(btc["equity"], rel=1e-3)


def _btc_summary(balance: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = next(
        s for s in balance["info"]["summaries"] if s["currency"] == "BTC"
    )
    return summary


async def test_resting_order_is_listed_edited_and_cancelled(exchange: Any) -> None:
    """A passive order rests, is listed open, keeps its id across an edit, then cancels once."""
    order = await exchange.create_order(PERP, "limit", "buy", 105, 40000, {"label": "rest"})
    assert (order["status"], order["amount"]) == ("open", 100)  # ccxt truncates to lots of 10
    assert [o["id"] for o in await exchange.fetch_open_orders(PERP)] == [order["id"]]
    edited = await exchange.edit_order(order["id"], PERP, "limit", "buy", 200, 41000)
    assert (edited["id"], edited["amount"], edited["price"]) == (order["id"], 200, 41000)
    state = await exchange.fetch_order(order["id"], PERP)
    assert (state["status"], state["amount"]) == ("open", 200)
    cancelled = await exchange.cancel_order(order["id"], PERP)
    assert cancelled["status"] == "canceled"
    assert await exchange.fetch_open_orders(PERP) == []
    for price in (40000, 40500):
        await exchange.create_order(PERP, "limit", "buy", 10, price)
    await exchange.cancel_all_orders(PERP)
    assert await exchange.fetch_open_orders() == []
    with pytest.raises(ccxt.InvalidOrder):
        await exchange.cancel_order(order["id"], PERP)
    with pytest.raises(ccxt.OrderNotFound):
        await exchange.cancel_order("999", PERP)


async def test_my_trades_since_filters_by_exchange_time(
    server: DeribitSimServer, exchange: Any
) -> None:
    """fetch_my_trades with `since` returns only fills at or after that exchange time."""
    first = await _marketable_buy(exchange, 100, "first")
    server.advance(60)
    boundary = server.state.now_ms()
    second = await _marketable_buy(exchange, 200, "second")
    assert [t["order"] for t in await exchange.fetch_my_trades(PERP, since=boundary)] == [
        second["id"]
    ]
    all_orders = {t["order"] for t in await exchange.fetch_my_trades(PERP)}
    assert all_orders == {first["id"], second["id"]}
    by_currency = {t["order"] for t in await exchange.fetch_my_trades()}
    assert by_currency == all_orders


async def test_market_and_immediate_orders(exchange: Any) -> None:
    """Market orders fill at once; an IOC limit that cannot fill is cancelled, never resting."""
    market = await exchange.create_order(PERP, "market", "sell", 300)
    assert (market["status"], market["filled"]) == ("closed", 300)
    assert market["info"]["price"] == "market_price"
    short = next(p for p in await exchange.fetch_positions() if p["symbol"] == PERP)
    assert (short["contracts"], short["side"]) == (-300, "short")
    assert short["info"]["size_currency"] < 0
    ioc = await exchange.create_order(PERP, "limit", "buy", 100, 40000, {"timeInForce": "IOC"})
    assert (ioc["status"], ioc["filled"]) == ("canceled", 0)
    assert await exchange.fetch_open_orders(PERP) == []


async def test_rejections_map_to_ccxt_error_classes(server: DeribitSimServer) -> None:
    """Deribit's error codes reach ccxt as the right exception classes."""
    small = ccxt_deribit(server, account="small")
    try:
        await small.load_markets()
        price = await _through_the_book(small)
        with pytest.raises(ccxt.InsufficientFunds):
            await small.create_order(PERP, "limit", "buy", 100_000, price, {"label": "big"})
        refused = await small.private_get_get_order_state_by_label({"label": "big"})
        assert refused["result"] == []
        with pytest.raises(ccxt.BadRequest):
            await small.private_get_buy({"instrument_name": "BTC-PERPETUAL", "amount": 15})
        with pytest.raises(ccxt.InvalidOrder):
            await small.private_get_buy(
                {"instrument_name": "BTC-PERPETUAL", "amount": 10, "price": 40000.3}
            )
        with pytest.raises(ccxt.InvalidOrder):
            await small.create_order(PERP, "limit", "buy", 10, price, {"postOnly": True})
        with pytest.raises(ccxt.ExchangeError, match="11030"):
            await small.create_order(PERP, "limit", "sell", 10, price, {"reduceOnly": True})
    finally:
        await small.close()


async def test_wrong_credentials_are_authentication_errors(server: DeribitSimServer) -> None:
    """A wrong secret or unknown key fails authentication; no token means unauthorized."""
    wrong = ccxt_deribit(server, secret="not-the-secret")
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await wrong.fetch_balance({"code": "BTC"})
    finally:
        await wrong.close()
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.url}/api/v2/private/get_positions") as response,
    ):
        body = await response.json()
    assert body["error"]["code"] == 13009
    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"{server.url}/api/v2/public/auth",
            params={
                "grant_type": "client_credentials",
                "client_id": "nobody",
                "client_secret": "x",
            },
        ) as response,
    ):
        assert (await response.json())["error"]["code"] == 13004


async def test_json_rpc_post_and_bearer_tokens(server: DeribitSimServer) -> None:
    """A JSON-RPC POST authenticates; its bearer token then opens private REST methods."""
    secret = TEST_BOOK.accounts["main"].api_secret.get_secret_value()
    envelope = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "public/auth",
        "params": {
            "grant_type": "client_credentials",
            "client_id": "test-main",
            "client_secret": secret,
        },
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.url}/api/v2", data=json.dumps(envelope)) as response:
            auth = await response.json()
        assert auth["id"] == 7
        token = auth["result"]["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{server.url}/api/v2/private/get_positions"
        async with http.get(url, headers=headers) as response:
            positions = (await response.json())["result"]
        async with http.get(url, headers={"Authorization": "Bearer forged"}) as response:
            forged = await response.json()
    assert [p["instrument_name"] for p in positions] == ["BTC-27MAR26-60000-C"]
    assert forged["error"]["code"] == 13009


async def test_expired_instruments_are_listed_only_on_request() -> None:
    """An instrument past its expiry leaves the active listing and shows with expired=true."""
    book = SimBook(
        symbols=["BTC-PERPETUAL", "BTC-8JAN26"],
        accounts={"main": SimAccount(api_key="k", api_secret=SecretStr("s"))},
        start=dt.datetime(2026, 1, 8, 7, 59, tzinfo=dt.UTC),
    )
    async with running_sim(book, speed=1.0) as server:
        client = ccxt_deribit(server, book=book)
        try:
            before = await client.public_get_get_instruments({"currency": "BTC"})
            assert [i["instrument_name"] for i in before["result"]] == [
                "BTC-PERPETUAL",
                "BTC-8JAN26",
            ]
            server.advance(120)
            active = await client.public_get_get_instruments({"currency": "BTC"})
            expired = await client.public_get_get_instruments(
                {"currency": "BTC", "expired": "true"}
            )
        finally:
            await client.close()
    assert [i["instrument_name"] for i in active["result"]] == ["BTC-PERPETUAL"]
    assert [i["instrument_name"] for i in expired["result"]] == ["BTC-8JAN26"]
