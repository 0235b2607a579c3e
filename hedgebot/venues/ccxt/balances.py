"""ccxt balance dicts -> collateral per currency and `hedgebot.model.account.MarginState`.

Owns the reading of each venue's raw account fields (ccxt's unified balance has no margin
numbers, so this reads ``balance['info']``):

* Deribit ``get_account_summaries``: per currency ``margin_balance`` (else ``equity``),
  ``initial_margin``, ``maintenance_margin``; with cross-collateral the account-wide
  ``total_*_usd`` fields give one USD margin state. Collateral is each currency's ``equity``.
* Bybit unified wallet: ``totalMarginBalance``, ``totalInitialMargin``,
  ``totalMaintenanceMargin`` (USD); collateral is each coin's ``equity``. A classic account
  leaves those totals empty: then each coin is its own margin state (``equity``,
  ``totalPositionIM`` + ``totalOrderIM``, ``totalPositionMM``).
* Binance USDⓈ-M account: ``totalMarginBalance``, ``totalInitialMargin``, ``totalMaintMargin``;
  COIN-M accounts have only per-asset ``marginBalance``, ``initialMargin``, ``maintMargin``.
* OKX account balance: account-wide ``adjEq``/``totalEq``, ``imr``, ``mmr`` when set
  (multi-currency margin), else per currency ``eq``, ``imr``, ``mmr``.

Currencies with no equity and no margin are left out (a ratio of 0/0 means nothing).
It must not import ccxt or perform I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hedgebot.model.account import MarginState
from hedgebot.model.errors import BadVenueData


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFunds:
    """Collateral by currency (coin units) and the margin states of one account."""

    collateral: dict[str, float] = field(default_factory=dict)
    margin: tuple[MarginState, ...] = ()


def funds_from_ccxt_balance(balance: Mapping[str, Any], *, exchange_id: str) -> AccountFunds:
    """Collateral and margin from a ccxt ``fetch_balance`` result (raises BadVenueData)."""
    info = balance.get("info")
    if not isinstance(info, Mapping):
        raise BadVenueData(f"{exchange_id}: balance without raw info")
    if exchange_id == "deribit":
        summaries = info.get("summaries", [info])
        return deribit_funds(summaries if isinstance(summaries, list) else [])
    if exchange_id == "bybit":
        return _bybit_funds(info)
    if exchange_id.startswith("binance"):
        return _binance_funds(info)
    if exchange_id == "okx":
        return _okx_funds(info)
    raise BadVenueData(f"{exchange_id}: margin reading is not supported for this venue")


def deribit_funds(summaries: Iterable[Any]) -> AccountFunds:
    """Funds from Deribit account summaries (REST ``summaries`` or ``user.portfolio`` data)."""
    rows = [s for s in summaries if isinstance(s, Mapping)]
    collateral = {str(s["currency"]): _num(s, "equity") for s in rows if "currency" in s}
    cross = [s for s in rows if s.get("cross_collateral_enabled") and "total_equity_usd" in s]
    if cross:
        first = cross[0]
        account_wide = MarginState(
            currency="USD",
            equity=_num(first, "total_margin_balance_usd", "total_equity_usd"),
            initial_margin=_requirement(first, "total_initial_margin_usd"),
            maintenance_margin=_requirement(first, "total_maintenance_margin_usd"),
        )
        return AccountFunds(collateral=collateral, margin=_meaningful([account_wide]))
    states = [
        MarginState(
            currency=str(s["currency"]),
            equity=_num(s, "margin_balance", "equity"),
            initial_margin=_requirement(s, "initial_margin"),
            maintenance_margin=_requirement(s, "maintenance_margin"),
        )
        for s in rows
        if "currency" in s
    ]
    return AccountFunds(collateral=collateral, margin=_meaningful(states))


def _bybit_funds(info: Mapping[str, Any]) -> AccountFunds:
    accounts = _list(_mapping(info.get("result")).get("list"))
    if not accounts:
        raise BadVenueData("bybit: wallet balance without accounts")
    account = _mapping(accounts[0])
    coins = [_mapping(c) for c in _list(account.get("coin"))]
    collateral = {str(c["coin"]): _num(c, "equity", "walletBalance") for c in coins if "coin" in c}
    totals = ("totalMarginBalance", "totalEquity", "totalInitialMargin", "totalMaintenanceMargin")
    if all(_optional(account.get(key)) is None for key in totals):
        # a classic (non-unified) account: Bybit leaves the account-wide totals empty and
        # margins each coin on its own
        per_coin = [
            MarginState(
                currency=str(c["coin"]),
                equity=_num(c, "equity", "walletBalance"),
                initial_margin=_requirement(c, "totalPositionIM") + _requirement(c, "totalOrderIM"),
                maintenance_margin=_requirement(c, "totalPositionMM"),
            )
            for c in coins
            if "coin" in c
        ]
        return AccountFunds(collateral=collateral, margin=_meaningful(per_coin))
    state = MarginState(
        currency="USD",
        equity=_num(account, "totalMarginBalance", "totalEquity"),
        initial_margin=_requirement(account, "totalInitialMargin"),
        maintenance_margin=_requirement(account, "totalMaintenanceMargin"),
    )
    return AccountFunds(collateral=collateral, margin=_meaningful([state]))


def _binance_funds(info: Mapping[str, Any]) -> AccountFunds:
    assets = [_mapping(a) for a in _list(info.get("assets"))]
    collateral = {
        str(a["asset"]): _num(a, "marginBalance", "walletBalance") for a in assets if "asset" in a
    }
    if "totalMaintMargin" in info:
        quote = "USDT" if not info.get("multiAssetsMargin") else "USD"
        state = MarginState(
            currency=quote,
            equity=_num(info, "totalMarginBalance"),
            initial_margin=_requirement(info, "totalInitialMargin"),
            maintenance_margin=_requirement(info, "totalMaintMargin"),
        )
        return AccountFunds(collateral=collateral, margin=_meaningful([state]))
    states = [
        MarginState(
            currency=str(a["asset"]),
            equity=_num(a, "marginBalance"),
            initial_margin=_requirement(a, "initialMargin"),
            maintenance_margin=_requirement(a, "maintMargin"),
        )
        for a in assets
        if "asset" in a
    ]
    return AccountFunds(collateral=collateral, margin=_meaningful(states))


def _okx_funds(info: Mapping[str, Any]) -> AccountFunds:
    data = _list(info.get("data"))
    if not data:
        raise BadVenueData("okx: account balance without data")
    account = _mapping(data[0])
    details = [_mapping(d) for d in _list(account.get("details"))]
    collateral = {str(d["ccy"]): _num(d, "eq") for d in details if "ccy" in d}
    if _optional(account.get("mmr")) is not None:
        state = MarginState(
            currency="USD",
            equity=_num(account, "adjEq", "totalEq"),
            initial_margin=_requirement(account, "imr"),
            maintenance_margin=_requirement(account, "mmr"),
        )
        return AccountFunds(collateral=collateral, margin=_meaningful([state]))
    states = [
        MarginState(
            currency=str(d["ccy"]),
            equity=_num(d, "eq"),
            initial_margin=_requirement(d, "imr"),
            maintenance_margin=_requirement(d, "mmr"),
        )
        for d in details
        if "ccy" in d
    ]
    return AccountFunds(collateral=collateral, margin=_meaningful(states))


def _meaningful(states: Iterable[MarginState]) -> tuple[MarginState, ...]:
    return tuple(
        s for s in states if s.equity != 0 or s.initial_margin != 0 or s.maintenance_margin != 0
    )


def _num(row: Mapping[str, Any], *keys: str) -> float:
    """The first of `keys` holding a finite number; 0.0 if all are absent or empty."""
    for key in keys:
        if key not in row:
            continue
        value = row[key]
        number = _optional(value)
        if number is not None:
            return number
        if value not in (None, ""):
            raise BadVenueData(f"balance field {key} is not a finite number: {value!r}")
    return 0.0


def _requirement(row: Mapping[str, Any], *keys: str) -> float:
    """A margin requirement: like `_num`, but a negative one is garbage, not a safe account."""
    value = _num(row, *keys)
    if value < 0:
        raise BadVenueData(f"balance field {keys[0]} is negative: {value}")
    return value


def _optional(value: Any) -> float | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
