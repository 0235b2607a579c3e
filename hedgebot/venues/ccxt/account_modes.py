"""The account modes a venue account runs in, read at start-up and refused when hedgebot cannot
trade them.

Owns `check_position_mode`: hedgebot keeps one net position per hedge instrument and sends
plain buy and sell orders (reduce-only where flattening). A Binance account in hedge mode
("dual side position": separate LONG and SHORT legs) refuses such orders (code -4061) and
refuses ``reduceOnly`` altogether (-1106), so every hedge would be rejected and the underlying
halted after three rejects. hedgebot therefore reads the mode once before trading (ccxt
``fetch_position_mode``, Binance ``GET /fapi/v1/positionSide/dual``) and stops with one line
naming the setting to change. OKX: the account configuration (ccxt ``fetch_accounts``,
``GET /api/v5/account/config``) is read the same way; long/short position mode (``posMode``
``long_short_mode``, where every swap order needs ``posSide``) is refused like Binance's hedge
mode, and Spot mode (``acctLv`` 1, which cannot trade swaps) is refused too. Other venues'
modes are documented in docs/venues.md.

It must not place orders. No ccxt type or exception leaves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hedgebot.clock import Clock
from hedgebot.model.errors import ConfigError
from hedgebot.venues.ccxt.retry import Backoff, retry_call


async def check_position_mode(
    exchange: Any, *, venue: str, ccxt_symbols: Sequence[str], clock: Clock
) -> None:
    """Raise ConfigError (one line) if the account's position mode cannot be traded."""
    if exchange.id == "okx":
        await _check_okx_account(exchange, venue=venue, clock=clock)
        return
    if not exchange.id.startswith("binance") or not ccxt_symbols:
        return
    mode = await retry_call(
        lambda: exchange.fetch_position_mode(ccxt_symbols[0]),
        operation="fetch_position_mode",
        clock=clock,
        backoff=Backoff(),
    )
    if mode.get("hedged"):
        raise ConfigError(
            f"venues.{venue}: the {exchange.id} account is in hedge mode (dual-side positions); "
            "hedgebot trades one net position per instrument: switch the account to one-way "
            "mode (Position Mode: One-way) and restart"
        )


async def _check_okx_account(exchange: Any, *, venue: str, clock: Clock) -> None:
    accounts = await retry_call(
        exchange.fetch_accounts, operation="fetch_accounts", clock=clock, backoff=Backoff()
    )
    for account in accounts:
        info = account.get("info") or {}
        if info.get("posMode") == "long_short_mode":
            raise ConfigError(
                f"venues.{venue}: the okx account is in long/short position mode; hedgebot "
                "trades one net position per instrument: switch the account to one-way mode "
                "(Settings > Position mode: One-way / net_mode) and restart"
            )
        if str(info.get("acctLv")) == "1":
            raise ConfigError(
                f"venues.{venue}: the okx account is in Spot mode (acctLv 1), which cannot "
                "trade swaps: switch the account mode to Futures, Multi-currency or Portfolio "
                "margin and restart"
            )
