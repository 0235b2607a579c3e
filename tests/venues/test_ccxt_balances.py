"""Recorded account payloads become collateral per currency and margin states."""

from __future__ import annotations

import pytest

from hedgebot.model.errors import BadVenueData
from hedgebot.venues.ccxt.balances import funds_from_ccxt_balance
from tests.support.ccxt_recorded import load_json, loaded_exchange


def test_deribit_standard_margin_is_per_currency() -> None:
    """Each Deribit currency gets its own margin state from margin_balance, IM and MM."""
    result = load_json("deribit/account_summaries.json")["result"]
    balance = loaded_exchange("deribit").parse_balance(result)
    funds = funds_from_ccxt_balance(balance, exchange_id="deribit")
    btc_raw = next(s for s in result["summaries"] if s["currency"] == "BTC")
    btc = next(m for m in funds.margin if m.currency == "BTC")
    assert btc.equity == btc_raw["margin_balance"]
    assert btc.initial_margin == btc_raw["initial_margin"]
    assert btc.maintenance_margin == btc_raw["maintenance_margin"]
    assert btc.maintenance_ratio == pytest.approx(
        btc_raw["maintenance_margin"] / btc_raw["margin_balance"]
    )
    assert funds.collateral["BTC"] == btc_raw["equity"]
    assert set(funds.collateral) == {s["currency"] for s in result["summaries"]}


def test_deribit_cross_collateral_is_one_usd_margin_state() -> None:
    """With cross-collateral the account-wide USD totals are the single margin state."""
    result = load_json("deribit/account_summaries_cross_margin.json")["result"]
    funds = funds_from_ccxt_balance(
        loaded_exchange("deribit").parse_balance(result), exchange_id="deribit"
    )
    first = result["summaries"][0]
    assert [m.currency for m in funds.margin] == ["USD"]
    assert funds.margin[0].equity == first["total_margin_balance_usd"]
    assert funds.margin[0].initial_margin == first["total_initial_margin_usd"]
    assert funds.margin[0].maintenance_margin == first["total_maintenance_margin_usd"]
    assert funds.collateral["USDT"] == next(
        s["equity"] for s in result["summaries"] if s["currency"] == "USDT"
    )


def test_deribit_empty_currencies_have_no_margin_state() -> None:
    """Currencies with zero equity and zero margin do not produce a meaningless 0/0 ratio."""
    result = load_json("deribit/ccxt_account_summaries_2024-12-02_excerpt.json")["result"]
    funds = funds_from_ccxt_balance(
        loaded_exchange("deribit").parse_balance(result), exchange_id="deribit"
    )
    empty = {
        s["currency"]
        for s in result["summaries"]
        if float(s["equity"]) == 0 and float(s["maintenance_margin"]) == 0
    }
    assert empty
    assert not empty & {m.currency for m in funds.margin}
    assert all(m.maintenance_ratio < float("inf") for m in funds.margin)


def test_bybit_unified_account_totals() -> None:
    """Bybit's unified wallet gives one USD margin state and coin collateral per coin."""
    response = load_json("bybit/ccxt_wallet_balance_unified_2025-01-14.json")
    account = response["result"]["list"][0]
    funds = funds_from_ccxt_balance(
        loaded_exchange("bybit").parse_balance(response), exchange_id="bybit"
    )
    (state,) = funds.margin
    assert state.equity == float(account["totalMarginBalance"])
    assert state.initial_margin == float(account["totalInitialMargin"])
    assert state.maintenance_margin == float(account["totalMaintenanceMargin"])
    btc = next(c for c in account["coin"] if c["coin"] == "BTC")
    assert funds.collateral["BTC"] == float(btc["equity"])


def test_bybit_classic_account_is_margined_per_coin() -> None:
    """A classic (non-unified) Bybit account leaves the account-wide totals empty (Bybit's
    wallet-balance documentation): each coin's equity, position + order IM and position MM then
    give one margin state per coin, instead of no margin state (and no alert) at all. The
    recorded unified answer with its totals blanked stands in for a classic one."""
    response = load_json("bybit/ccxt_wallet_balance_unified_2025-01-14.json")
    account = response["result"]["list"][0]
    account["accountType"] = "CONTRACT"
    for key in ("totalEquity", "totalMarginBalance", "totalInitialMargin"):
        account[key] = ""
    account["totalMaintenanceMargin"] = ""
    funds = funds_from_ccxt_balance(
        loaded_exchange("bybit").parse_balance(response), exchange_id="bybit"
    )
    states = {m.currency: m for m in funds.margin}
    usdt = next(c for c in account["coin"] if c["coin"] == "USDT")
    assert states["USDT"].equity == float(usdt["equity"])
    assert states["USDT"].initial_margin == float(usdt["totalPositionIM"]) + float(
        usdt["totalOrderIM"]
    )
    assert states["USDT"].maintenance_margin == float(usdt["totalPositionMM"])
    assert states["BTC"].maintenance_margin == 0
    assert "USD" not in states


def test_binance_usdm_account_totals() -> None:
    """Binance USDⓈ-M totals (totalMarginBalance, totalInitialMargin, totalMaintMargin) in USDT."""
    raw = load_json("binance_usdm/account_info_v2.json")
    balance = loaded_exchange("binanceusdm").parse_balance_custom(raw, "linear")
    funds = funds_from_ccxt_balance(balance, exchange_id="binanceusdm")
    (state,) = funds.margin
    assert (state.currency, state.equity) == ("USDT", float(raw["totalMarginBalance"]))
    assert state.maintenance_margin == float(raw["totalMaintMargin"])
    assert funds.collateral == {"USDT": float(raw["assets"][0]["marginBalance"])}


def test_okx_single_currency_margin_is_per_currency() -> None:
    """Without account-wide imr/mmr, OKX margin is read per currency from its details."""
    raw = load_json("okx/account_balance.json")
    funds = funds_from_ccxt_balance(
        loaded_exchange("okx").parse_trading_balance(raw), exchange_id="okx"
    )
    detail = raw["data"][0]["details"][0]
    assert [(m.currency, m.equity) for m in funds.margin] == [(detail["ccy"], float(detail["eq"]))]


def test_balance_with_garbage_margin_is_rejected() -> None:
    """A non-numeric margin field is bad data, never silently zero."""
    result = load_json("deribit/account_summaries.json")["result"]
    result["summaries"][0]["maintenance_margin"] = "lots"
    with pytest.raises(BadVenueData, match="maintenance_margin"):
        funds_from_ccxt_balance({"info": result}, exchange_id="deribit")
