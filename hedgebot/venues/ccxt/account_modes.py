"""The account modes a venue account runs in, read at start-up and refused when hedgebot cannot
trade them.

Owns `check_position_mode`: hedgebot keeps one net position per hedge instrument and sends
plain buy and sell orders (reduce-only where flattening). A Binance account in hedge mode
("dual side position": separate LONG and SHORT legs) refuses such orders (code -4061) and
refuses ``reduceOnly`` altogether (-1106), so every hedge would be rejected and the underlying
halted after three rejects. hedgebot therefore reads the mode once before trading (ccxt
``fetch_position_mode``, Binance ``GET /fapi/v1/positionSide/dual``) and stops with one line
naming the setting to change. Other venues' modes are documented in docs/venues.md.

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
