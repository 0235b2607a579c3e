"""REST reads of one account through ccxt: positions, balances, open and past orders, trades.

Owns which ccxt calls each venue needs for a complete picture (every read retried with backoff):

* Deribit: ``get_positions`` and ``get_account_summaries`` (all currencies); open orders, order
  history and trades are scoped by settlement currency (ccxt's unified calls would ask for BTC
  only), so they are read per currency through ccxt's implicit Deribit methods.
* Bybit: positions per category and settle coin (linear USDT, linear USDC, inverse).
* Binance, OKX: the unified calls; orders and trades per traded symbol. OKX positions also
  tell each swap's margin mode (`margin_modes`), which OKX orders must repeat as ``tdMode``.

Results are ccxt dicts for the gateway's converters. It must not place or cancel orders.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import Any

from hedgebot.clock import Clock
from hedgebot.model.account import AccountSnapshot, Position, SnapshotPart
from hedgebot.model.errors import BadVenueData
from hedgebot.venues.ccxt.balances import funds_from_ccxt_balance
from hedgebot.venues.ccxt.markets import MarketCatalog
from hedgebot.venues.ccxt.positions import position_from_ccxt
from hedgebot.venues.ccxt.retry import Backoff, retry_call

_BYBIT_POSITION_QUERIES: tuple[dict[str, str], ...] = (
    {"subType": "linear", "settleCoin": "USDT"},
    {"subType": "linear", "settleCoin": "USDC"},
    {"subType": "inverse"},
)


class AccountReader:
    """Reads of one account on one venue, through one ccxt instance."""

    def __init__(
        self,
        *,
        exchange: Any,
        catalog: MarketCatalog,
        account: str,
        venue: str,
        clock: Clock,
        backoff: Backoff,
    ) -> None:
        self._exchange = exchange
        self._exchange_id: str = exchange.id
        self._catalog = catalog
        self._account = account
        self._venue = venue
        self._clock = clock
        self._backoff = backoff
        self.margin_modes: dict[str, str] = {}
        """ccxt symbol -> margin mode (cross, isolated) of the open position there (OKX)."""

    async def snapshot(self) -> AccountSnapshot:
        """Positions, collateral and margin now (raises hedgebot errors only).

        The two parts are separate requests (ccxt's rate limiter spaces them): each is stamped
        with the time its *first* request was sent, never with when the last answer arrived, so
        a fill landing between them is not taken as contained in the positions.
        """
        positions_started, raw_positions = await self._stamped(self._positions)
        funds_started, balance = await self._stamped(
            partial(self._read, "fetch_balance", self._exchange.fetch_balance)
        )
        funds = funds_from_ccxt_balance(balance, exchange_id=self._exchange_id)
        return AccountSnapshot(
            account=self._account,
            venue=self._venue,
            timestamp_ms=self._clock.now_ms(),
            positions=tuple(self._convert_positions(raw_positions)),
            collateral=funds.collateral,
            margin=funds.margin,
            read_started_ms={
                SnapshotPart.POSITIONS: positions_started,
                SnapshotPart.FUNDS: funds_started,
            },
        )

    async def _stamped(self, read: Callable[[], Awaitable[Any]]) -> tuple[int, Any]:
        """(local time the read started, its result). A retried read keeps its first start:
        the earliest time is the safe one, since any attempt's answer may be the one used."""
        started = self._clock.now_ms()
        return started, await read()

    async def open_orders(self, symbols: Iterable[str]) -> list[dict[str, Any]]:
        """Every open order (Deribit: of every currency; elsewhere: of `symbols`)."""
        if self._exchange_id == "deribit":
            return await self._deribit_per_currency(
                "get_open_orders", self._exchange.private_get_get_open_orders_by_currency, {}
            )
        return await self._per_symbol(
            "fetch_open_orders", self._exchange.fetch_open_orders, symbols
        )

    async def closed_orders(self, symbols: Iterable[str]) -> list[dict[str, Any]]:
        """Recent finished orders of `symbols` (for lookups by client id)."""
        return await self._per_symbol(
            "fetch_closed_orders", self._exchange.fetch_closed_orders, symbols
        )

    async def trades_since(self, since_ms: int, symbols: Iterable[str]) -> list[dict[str, Any]]:
        """Our executions at or after `since_ms`, oldest first."""
        if self._exchange_id == "deribit":
            query = {
                "start_timestamp": since_ms,
                "end_timestamp": self._clock.now_ms() + 60_000,
                "count": 1000,
                "sorting": "asc",
            }
            trades = await self._deribit_per_currency(
                "get_user_trades",
                self._exchange.private_get_get_user_trades_by_currency_and_time,
                query,
            )
        else:
            trades = []
            for symbol in symbols:
                trades += await self._read(
                    "fetch_my_trades",
                    partial(self._exchange.fetch_my_trades, symbol, since_ms),
                )
        return sorted(trades, key=_trade_time)

    async def _positions(self) -> list[dict[str, Any]]:
        positions: list[dict[str, Any]] = []
        if self._exchange_id != "bybit":
            positions = list(await self._read("fetch_positions", self._exchange.fetch_positions))
            if self._exchange_id == "okx":
                self.margin_modes = {
                    str(p.get("symbol")): str(p["marginMode"])
                    for p in positions
                    if p.get("contracts") and p.get("marginMode") in ("cross", "isolated")
                }
            return positions
        for query in _BYBIT_POSITION_QUERIES:
            positions += await self._read(
                "fetch_positions", partial(self._exchange.fetch_positions, None, query)
            )
        return positions

    def _convert_positions(self, raw_positions: Iterable[dict[str, Any]]) -> list[Position]:
        """Convert every open position; one in a market hedgebot cannot read fails the snapshot.

        Skipping it would understate the book's delta, so a stale snapshot is the safer outcome.
        """
        positions = []
        for raw in raw_positions:
            market = self._catalog.by_ccxt_symbol(raw.get("symbol"))
            if market is None:
                if raw.get("contracts"):
                    raise BadVenueData(
                        f"{self._venue}: open position in unsupported market {raw.get('symbol')!r}"
                    )
                continue
            position = position_from_ccxt(
                raw, market, account=self._account, exchange_id=self._exchange_id
            )
            if position.amount != 0:
                positions.append(position)
        return positions

    async def _deribit_per_currency(
        self,
        operation: str,
        method: Callable[[dict[str, Any]], Awaitable[Any]],
        query: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Run a currency-scoped Deribit call for every settlement currency and parse the rows."""
        rows: list[Any] = []
        for currency in self._catalog.settle_currencies:
            response = await self._read(operation, partial(method, {**query, "currency": currency}))
            result = response.get("result") if isinstance(response, dict) else None
            if isinstance(result, dict):
                result = result.get("trades")
            rows += result if isinstance(result, list) else []
        if operation == "get_user_trades":
            return list(self._exchange.parse_trades(rows))
        return list(self._exchange.parse_orders(rows))

    async def _per_symbol(
        self, operation: str, method: Callable[[str], Awaitable[Any]], symbols: Iterable[str]
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for symbol in symbols:
            ccxt_symbol = self._catalog.get(symbol).ccxt_symbol
            items += await self._read(operation, partial(method, ccxt_symbol))
        return items

    async def _read(self, operation: str, call: Callable[[], Awaitable[Any]]) -> Any:
        return await retry_call(
            call,
            operation=operation,
            clock=self._clock,
            backoff=self._backoff,
            headers=lambda: getattr(self._exchange, "last_response_headers", None),
        )


def _trade_time(trade: Mapping[str, Any]) -> float:
    """A trade's time for sorting; a missing or unreadable one sorts first (it is refused later)."""
    value = trade.get("timestamp")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return float(value)
