"""Order entry through ccxt: submit, cancel and look up hedgebot's orders by client id.

Owns the rules for touching orders on a real venue:

* a create is sent once and never retried; a timeout or network error on it becomes
  `OrderOutcomeUnknown`; amounts are converted to the venue's units and truncated to its step
  (never above the requested size), prices rounded to the tick on the safe side (buys down,
  sells up); below the venue minimum is `OrderRejected` before anything is sent;
* on Deribit every create, answered or not, is followed by a lookup of its label
  (``private/get_order_state_by_label``): an order found after an error is returned instead of
  the error, and more than one order with the label is logged (``broker.duplicate_orders``)
  and the extra open ones are cancelled;
* cancels are retried with backoff on transient errors, and an order already gone is success;
* OKX orders carry the trade mode of the account's position (`create_params`) and are looked
  up by client id with OKX's order query (``GET /api/v5/trade/order?clOrdId=``).

It runs on the order-entry ccxt instance only, so that orders never queue behind reads.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any

import structlog

from hedgebot.clock import Clock
from hedgebot.model import rounding
from hedgebot.model.errors import BadVenueData, OrderRejected, VenueError
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import OrderRequest, OrderUpdate, Side
from hedgebot.venues.ccxt.account_reads import AccountReader
from hedgebot.venues.ccxt.errors import OrderNotFoundError, translate_create_error
from hedgebot.venues.ccxt.markets import MarketCatalog, VenueMarket
from hedgebot.venues.ccxt.order_events import (
    check_client_id,
    client_id_of,
    create_params,
    order_update_from_ccxt,
)
from hedgebot.venues.ccxt.retry import Backoff, retry_call

log = structlog.get_logger(__name__)


class OrderEntry:
    """Creates, cancels and finds hedgebot's orders on one venue."""

    def __init__(
        self,
        *,
        exchange: Any,
        reader: AccountReader,
        catalog: MarketCatalog,
        clock: Clock,
        backoff: Backoff,
    ) -> None:
        self._exchange = exchange
        self._exchange_id: str = exchange.id
        self._reader = reader
        self._catalog = catalog
        self._clock = clock
        self._backoff = backoff
        self.order_ids: dict[str, str] = {}
        """Venue order id -> client id of every order of ours seen so far."""

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        """Place a limit order once. Raises OrderRejected, OrderOutcomeUnknown or VenueError."""
        market = self._market(order.key)
        check_client_id(order.client_id, exchange_id=self._exchange_id)
        venue_amount = market.venue_order_amount(order.amount, order.limit_price)
        price = venue_limit_price(market, order.limit_price, order.side)
        params = create_params(
            order.client_id,
            exchange_id=self._exchange_id,
            reduce_only=order.reduce_only,
            margin_mode=self._reader.margin_modes.get(market.ccxt_symbol),
        )
        log.info(
            "hedge.submitting",
            client_id=order.client_id,
            symbol=market.instrument.symbol,
            side=order.side.value,
            venue_amount=venue_amount,
            price=price,
        )
        try:
            created = await self._exchange.create_order(
                market.ccxt_symbol, "limit", order.side.value, venue_amount, price, params
            )
        except Exception as exc:  # translated: no ccxt exception leaves the gateway
            error = translate_create_error(exc, headers=self._headers())
            log.warning("hedge.create_failed", client_id=order.client_id, error=str(error))
            found = await self._verify_label(order.client_id, market, created_id=None)
            if found is not None:
                return found
            raise error from exc
        update = self._update(created, market, order.client_id)
        verified = await self._verify_label(
            order.client_id, market, created_id=update.venue_order_id
        )
        return update if verified is None else verified

    async def cancel(self, client_id: str, key: InstrumentKey) -> None:
        """Cancel one of our orders, retrying transient errors; an order already gone is fine."""
        market = self._market(key)
        try:
            if self._exchange_id == "deribit":
                await self._retry(
                    "cancel_by_label",
                    lambda: self._exchange.private_get_cancel_by_label(
                        {"label": client_id, "currency": market.settle}
                    ),
                )
                return
            for order in await self._open_orders_of(client_id, market):
                await self._retry(
                    "cancel_order",
                    partial(self._exchange.cancel_order, order["id"], market.ccxt_symbol),
                )
        except OrderNotFoundError:
            log.info("hedge.cancel_gone", client_id=client_id)

    async def lookup(self, client_id: str, key: InstrumentKey) -> OrderUpdate | None:
        """Our order with `client_id`, open or not; None if the venue never saw it."""
        market = self._market(key)
        try:
            orders = await self._orders_with_client_id(client_id, market)
        except OrderNotFoundError:
            return None
        if not orders:
            return None
        newest = max(orders, key=lambda o: o.get("lastUpdateTimestamp") or o.get("timestamp") or 0)
        return self._update(newest, market, client_id)

    async def _verify_label(
        self, client_id: str, market: VenueMarket, *, created_id: str | None
    ) -> OrderUpdate | None:
        """Deribit only: the order(s) carrying this label; duplicates reported and trimmed."""
        if self._exchange_id != "deribit":
            return None
        try:
            orders = await self._deribit_orders_by_label(client_id, market)
        except VenueError as exc:
            log.error("hedge.label_check_failed", client_id=client_id, error=str(exc))
            return None
        if len(orders) > 1:
            ids = sorted(str(o.get("id")) for o in orders)
            log.error("broker.duplicate_orders", client_id=client_id, venue_order_ids=ids)
            await self._cancel_extra_open(orders, keep=created_id or ids[0], market=market)
        if not orders:
            return None
        keep = next((o for o in orders if str(o.get("id")) == created_id), orders[0])
        return self._update(keep, market, client_id)

    async def _cancel_extra_open(
        self, orders: Iterable[dict[str, Any]], *, keep: str, market: VenueMarket
    ) -> None:
        for order in orders:
            if str(order.get("id")) == keep or order.get("status") != "open":
                continue
            try:
                await self._retry(
                    "cancel_order",
                    partial(self._exchange.cancel_order, order["id"], market.ccxt_symbol),
                )
            except VenueError as exc:
                log.error(
                    "hedge.duplicate_cancel_failed", venue_order_id=order.get("id"), error=str(exc)
                )

    async def _orders_with_client_id(
        self, client_id: str, market: VenueMarket
    ) -> list[dict[str, Any]]:
        if self._exchange_id == "deribit":
            found = await self._deribit_orders_by_label(client_id, market)
            if found:
                return found
            history = await self._reader.closed_orders([market.instrument.symbol])
        elif self._exchange_id == "okx":
            # OKX's order history as ccxt reads it holds filled orders only; its order query
            # takes the client id and answers for open, filled and cancelled orders alike
            # (51603 when it never saw the id)
            return [
                await self._retry(
                    "fetch_order",
                    partial(
                        self._exchange.fetch_order, "", market.ccxt_symbol, {"clOrdId": client_id}
                    ),
                )
            ]
        else:
            history = await self._reader.open_orders([market.instrument.symbol])
            history += await self._reader.closed_orders([market.instrument.symbol])
        return [o for o in history if client_id_of(o, exchange_id=self._exchange_id) == client_id]

    async def _open_orders_of(self, client_id: str, market: VenueMarket) -> list[dict[str, Any]]:
        orders = await self._reader.open_orders([market.instrument.symbol])
        return [o for o in orders if client_id_of(o, exchange_id=self._exchange_id) == client_id]

    async def _deribit_orders_by_label(
        self, label: str, market: VenueMarket
    ) -> list[dict[str, Any]]:
        response = await self._retry(
            "get_order_state_by_label",
            lambda: self._exchange.private_get_get_order_state_by_label(
                {"label": label, "currency": market.settle}
            ),
        )
        rows = response.get("result") if isinstance(response, dict) else None
        return list(self._exchange.parse_orders(rows if isinstance(rows, list) else []))

    def _update(self, order: Any, market: VenueMarket, client_id: str) -> OrderUpdate:
        update = order_update_from_ccxt(
            order, market, client_id=client_id, now_ms=self._clock.now_ms()
        )
        self.order_ids[update.venue_order_id] = client_id
        return update

    def _market(self, key: InstrumentKey) -> VenueMarket:
        try:
            return self._catalog.get(key.symbol)
        except BadVenueData as exc:
            raise OrderRejected(str(exc)) from None

    async def _retry(self, operation: str, call: Callable[[], Awaitable[Any]]) -> Any:
        return await retry_call(
            call,
            operation=operation,
            clock=self._clock,
            backoff=self._backoff,
            headers=self._headers,
        )

    def _headers(self) -> Any:
        return getattr(self._exchange, "last_response_headers", None)


def venue_limit_price(market: VenueMarket, price: float, side: Side) -> float:
    """`price` on the instrument's tick, never worse for us: buys round down, sells up."""
    tick = market.instrument.tick_size
    if not math.isfinite(price) or price <= 0:
        raise OrderRejected(f"{market.instrument.symbol}: limit price must be positive")
    if tick <= 0:
        return price
    rounded = rounding.to_step(price, tick, up=side is Side.SELL)
    if rounded <= 0:
        raise OrderRejected(f"{market.instrument.symbol}: limit price {price} below one tick")
    return rounded
