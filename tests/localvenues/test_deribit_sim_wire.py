"""The local Deribit exchange's payloads against real recorded Deribit payloads, and its parts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from hedgebot_localvenues.deribit import DeribitSimServer
from hedgebot_localvenues.deribit.auth import ApiCredentials, Authenticator
from hedgebot_localvenues.deribit.channels import parse_channel
from hedgebot_localvenues.deribit.faults import FaultController
from hedgebot_localvenues.deribit.requestlog import RequestLog
from hedgebot_localvenues.deribit.rpc import RpcError
from tests.support.local_deribit import ccxt_deribit

DATA = Path(__file__).parents[1] / "data" / "deribit" / "wire"


def _load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _assert_same_shape(real: dict[str, Any], ours: dict[str, Any]) -> None:
    """Every field of the real payload is present, with the same JSON type where both are set."""
    assert set(real) - set(ours) == set()
    for key, value in real.items():
        if value is not None and ours[key] is not None:
            assert _kind(ours[key]) == _kind(value), key


async def test_tickers_carry_every_field_of_real_deribit_tickers(server: DeribitSimServer) -> None:
    """Perpetual and option tickers have the fields and types of recorded Deribit tickers."""
    real_perp = _load("nautilus_ws_ticker.json")["params"]["data"]
    messages = _load("tardis_node_deribit_messages.json")
    real_option = next(
        m["params"]["data"]
        for m in messages
        if m["params"]["channel"] == "ticker.BTC-5JUN20-9250-C.raw"
    )
    client = ccxt_deribit(server)
    try:
        perp = await client.public_get_ticker({"instrument_name": "BTC-PERPETUAL"})
        option = await client.public_get_ticker({"instrument_name": "BTC-27MAR26-60000-C"})
    finally:
        await client.close()
    _assert_same_shape(real_perp, perp["result"])
    _assert_same_shape(real_option, option["result"])
    _assert_same_shape(real_option["greeks"], option["result"]["greeks"])


async def test_instruments_and_private_payloads_match_real_fields(server: DeribitSimServer) -> None:
    """Instruments, account summaries and order answers carry every real Deribit field."""
    real_instruments = _load("nautilus_http_get_instruments.json")["result"]
    real_summary = _load("ccxt_deribit_fetchBalance_get_account_summaries_2024-12-02_EXCERPT.json")[
        "result"
    ]["summaries"][0]
    real_order = _load("nautilus_ws_order_buy_response.json")["result"]
    client = ccxt_deribit(server)
    try:
        listing = (await client.public_get_get_instruments({"currency": "BTC"}))["result"]
        summaries = (await client.private_get_get_account_summaries())["result"]["summaries"]
        ticker = (await client.public_get_ticker({"instrument_name": "BTC-PERPETUAL"}))["result"]
        bought = await client.private_get_buy(
            {
                "instrument_name": "BTC-PERPETUAL",
                "amount": 10,
                "price": round(ticker["best_ask_price"] * 1.005 * 2) / 2,
            }
        )
    finally:
        await client.close()
    ours = {i["instrument_name"]: i for i in listing}
    for real, name in zip(
        real_instruments[:3], ["BTC-PERPETUAL", "BTC-27MAR26", "BTC-27MAR26-60000-C"], strict=True
    ):
        _assert_same_shape(real, ours[name])
        assert ours[name]["instrument_type"] == real["instrument_type"] == "reversed"
        assert ours[name]["quote_currency"] == real["quote_currency"]
    assert set(real_summary) - set(summaries[0]) == set()
    assert set(real_order) - set(bought["result"]) == set()
    _assert_same_shape(real_order["order"], bought["result"]["order"])
    assert bought["result"]["trades"][0]["order_id"] == bought["result"]["order"]["order_id"]


async def test_book_notifications_are_snapshot_then_linked_changes(
    server: DeribitSimServer,
) -> None:
    """book.* sends a snapshot of "new" levels, then changes chained by prev_change_id."""
    real_snapshot = _load("nautilus_ws_book_snapshot.json")["params"]["data"]
    real_change = _load("nautilus_ws_book_delta.json")["params"]["data"]
    async with aiohttp.ClientSession() as http, http.ws_connect(server.ws_url) as ws:
        await ws.send_json(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "public/subscribe",
                "params": {"channels": ["book.BTC-PERPETUAL.100ms"]},
            }
        )
        frames: list[dict[str, Any]] = []
        while len(frames) < 3:
            frame = await asyncio.wait_for(ws.receive_json(), 5.0)
            if frame.get("method") == "subscription":
                frames.append(frame["params"]["data"])
    snapshot, *changes = frames
    assert set(snapshot) == set(real_snapshot)
    assert snapshot["type"] == "snapshot"
    assert {level[0] for level in snapshot["bids"] + snapshot["asks"]} == {"new"}
    previous = snapshot["change_id"]
    for change in changes:
        assert set(change) == set(real_change)
        assert change["type"] == "change"
        assert change["prev_change_id"] == previous
        assert {level[0] for level in change["bids"] + change["asks"]} <= {
            "new",
            "change",
            "delete",
        }
        previous = change["change_id"]


def test_channel_names_parse_like_deribit() -> None:
    """Channel names of every served family parse; unknown instruments and intervals do not."""
    names = {"BTC-PERPETUAL", "BTC-27MAR26-60000-C"}
    indices = {"btc_usd"}

    def parse(name: str) -> Any:
        return parse_channel(name, instruments=names, index_names=indices)

    assert parse("ticker.BTC-PERPETUAL.100ms").needs_auth is False
    assert parse("ticker.BTC-PERPETUAL.raw").needs_auth is True
    assert parse("book.BTC-PERPETUAL.none.20.100ms").depth == 20
    orders = parse("user.orders.option.BTC.raw")
    assert (orders.family, orders.kind, orders.currency, orders.private) == (
        "user.orders",
        "option",
        "BTC",
        True,
    )
    assert parse("user.trades.BTC-PERPETUAL.100ms").instrument == "BTC-PERPETUAL"
    assert parse("user.portfolio.btc").currency == "BTC"
    assert parse("deribit_price_index.btc_usd").index_name == "btc_usd"
    for bad in ("ticker.ETH-PERPETUAL.100ms", "ticker.BTC-PERPETUAL.5ms", "user.secrets.x"):
        assert parse(bad) is None


def test_signatures_are_checked_exactly_like_ccxt_signs_them() -> None:
    """The deri-hmac-sha256 header ccxt builds authenticates; any altered byte does not."""
    auth = Authenticator(
        [ApiCredentials(account="main", api_key="key", api_secret=SecretStr("secret"))]
    )
    uri = "/api/v2/private/buy?amount=10&instrument_name=BTC-PERPETUAL"
    payload = f"1700000000000\nn1\nGET\n{uri}\n\n"
    signature = hmac.new(b"secret", payload.encode(), hashlib.sha256).hexdigest()
    header = f"deri-hmac-sha256 id=key,ts=1700000000000,sig={signature},nonce=n1"
    assert auth.authorization(header, method="GET", uri=uri, body="") == "main"
    with pytest.raises(RpcError) as tampered:
        auth.authorization(header, method="GET", uri=uri.replace("10", "20"), body="")
    assert tampered.value.code == 13009
    grant = auth.client_credentials("key", "secret")
    assert auth.bearer(grant.access_token) == "main"
    refreshed = auth.refresh(grant.refresh_token)
    assert auth.bearer(refreshed.access_token) == "main"
    with pytest.raises(RpcError):
        auth.refresh(grant.refresh_token)


async def test_fault_rules_are_consumed_in_order() -> None:
    """An armed rule answers exactly `count` matching calls; order losses apply to buy/sell."""

    class NoSockets:
        async def drop_all(self) -> int:
            return 0

        async def broadcast(self, frame: Any) -> int:
            return 0

    faults = FaultController(NoSockets())
    faults.fail_next(code=10009, count=2, methods=["private/buy"])
    assert faults.take_error("public/ticker") is None
    codes = [faults.take_error("private/buy") for _ in range(3)]
    assert [c.error.code if c else None for c in codes] == [10009, 10009, None]
    faults.lose_next_order(mode="close")
    assert faults.take_loss("private/get_positions") is None
    assert faults.take_loss("private/sell") == "close"
    assert faults.take_loss("private/buy") is None
    result = await faults.apply({"action": "rate_limit", "count": 3})
    assert result["state"]["errors"][0] == {
        "code": 10028,
        "remaining": 3,
        "methods": None,
        "close_connection": True,
    }
    with pytest.raises(ValueError, match="unknown action"):
        await faults.apply({"action": "nope"})


def test_request_log_keeps_order_entry_separate() -> None:
    """The log numbers calls and singles out those that place, change or cancel orders."""
    log = RequestLog()
    log.record(transport="http", method="public/ticker", account=None, timestamp_ms=1, outcome="ok")
    log.record(
        transport="ws",
        method="private/buy",
        account="a",
        timestamp_ms=2,
        outcome="lost",
        params={"label": "x", "reduce_only": True, "access_token": "secret-token"},
    )
    assert [r.seq for r in log.entries()] == [1, 2]
    assert [r.method for r in log.order_entry_calls()] == ["private/buy"]
    assert log.entries()[1].details == {"label": "x", "reduce_only": "true"}
    assert [r.seq for r in log.entries(since_seq=1)] == [2]
    log.clear()
    assert len(log) == 0
