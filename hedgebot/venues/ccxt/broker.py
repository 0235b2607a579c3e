"""`CcxtBroker`: the `hedgebot.venues.ports.Broker` of one real account through ccxt.

Owns the account's event stream and reconciliation:

* websockets where ccxt has them (``watch_orders``, ``watch_my_trades``) for order and fill
  events, restricted to hedgebot's orders (client ids starting with ``client_id_prefix``);
* REST polling of positions and balances every ``poll_interval_s`` (Deribit has no
  ``watchPositions``), pushed as account snapshots;
* a full REST reconciliation (snapshot, open orders, fills since the last one seen) after every
  websocket error and whenever the private streams have been silent for ``reconcile_interval_s``
  (the private websockets are then recycled, as a stalled receive loop looks just like silence),
  because ccxt loses the events of a gap;
* two ccxt instances: ``exchange`` for streams and reads, ``order_exchange`` (never reusing a
  connection, see `exchange_factory`) for order entry, so orders never queue behind reads.

No ccxt type or exception leaves it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import structlog

from hedgebot.clock import Clock
from hedgebot.config import VenueSettings
from hedgebot.core.fencing import installation_of
from hedgebot.model.account import AccountSnapshot
from hedgebot.model.errors import (
    AuthenticationFailed,
    BadVenueData,
    TransientVenueError,
    VenueError,
)
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import Fill, OrderRequest, OrderUpdate
from hedgebot.venues.ccxt.account_modes import check_position_mode
from hedgebot.venues.ccxt.account_reads import AccountReader
from hedgebot.venues.ccxt.errors import translate_error
from hedgebot.venues.ccxt.exchange_factory import (
    close_exchange,
    create_exchange,
    create_order_entry_exchange,
)
from hedgebot.venues.ccxt.markets import MarketCatalog
from hedgebot.venues.ccxt.order_entry import OrderEntry
from hedgebot.venues.ccxt.order_events import (
    client_id_of,
    fill_from_ccxt_trade,
    order_update_from_ccxt,
)
from hedgebot.venues.ccxt.permissions import KeyPermissions, key_permissions
from hedgebot.venues.ccxt.retry import Backoff, is_own_cancellation, retry_call
from hedgebot.venues.ports import AccountSink

log = structlog.get_logger(__name__)

FILL_OVERLAP_MS = 60_000
"""Fills are re-read this far before the newest one seen (the core applies each trade id once)."""


class CcxtBroker:
    """One trading account on a real venue."""

    def __init__(
        self,
        *,
        account: str,
        venue: str,
        exchange: Any,
        order_exchange: Any,
        catalog: MarketCatalog,
        clock: Clock,
        client_id_prefix: str,
        symbols: Sequence[str] = (),
        poll_interval_s: float = 3.0,
        reconcile_interval_s: float = 30.0,
        backoff: Backoff | None = None,
    ) -> None:
        if not client_id_prefix:
            raise ValueError("client_id_prefix must not be empty: it tells our orders apart")
        self.account = account
        self.venue = venue
        self._exchange = exchange
        self._order_exchange = order_exchange
        self._exchange_id: str = exchange.id
        self._catalog = catalog
        self._clock = clock
        self._prefix = client_id_prefix
        self._symbols = set(symbols)
        self._poll_interval_s = poll_interval_s
        self._reconcile_interval_s = reconcile_interval_s
        self._backoff = backoff or Backoff()
        self._reader = AccountReader(
            exchange=exchange,
            catalog=catalog,
            account=account,
            venue=venue,
            clock=clock,
            backoff=self._backoff,
        )
        self._entry = OrderEntry(
            exchange=order_exchange,
            reader=self._reader,
            catalog=catalog,
            clock=clock,
            backoff=self._backoff,
        )
        self._newest_fill_ms = clock.now_ms()
        self._recycled_ms = -(10**15)

    @classmethod
    async def open(
        cls,
        *,
        account: str,
        venue: str,
        settings: VenueSettings,
        clock: Clock,
        client_id_prefix: str,
        symbols: Sequence[str] = (),
        catalog: MarketCatalog | None = None,
        create_timeout_s: float = 10.0,
        poll_interval_s: float = 3.0,
        backoff: Backoff | None = None,
    ) -> CcxtBroker:
        """Build both credentialed ccxt instances from `settings` and load the markets once.

        `create_timeout_s` bounds how long a create may go unanswered before its outcome is
        UNKNOWN (ccxt's request timeout on the order-entry instance).
        """
        exchange = create_exchange(settings, venue=venue, credentials=True)
        order_exchange = create_order_entry_exchange(settings, venue=venue)
        order_exchange.timeout = int(create_timeout_s * 1000)
        try:
            if catalog is None:
                catalog = await _load_catalog(exchange, venue=venue, clock=clock)
            else:
                await _load_markets(exchange, clock)
            order_exchange.set_markets(exchange.markets, exchange.currencies)
            await check_position_mode(
                exchange,
                venue=venue,
                ccxt_symbols=[catalog.get(s).ccxt_symbol for s in symbols],
                clock=clock,
            )
        except BaseException:
            await close_exchange(exchange)
            await close_exchange(order_exchange)
            raise
        return cls(
            account=account,
            venue=venue,
            exchange=exchange,
            order_exchange=order_exchange,
            catalog=catalog,
            clock=clock,
            client_id_prefix=client_id_prefix,
            symbols=symbols,
            poll_interval_s=poll_interval_s,
            reconcile_interval_s=settings.reconcile_interval_s,
            backoff=backoff,
        )

    async def close(self) -> None:
        """Release both ccxt instances."""
        await close_exchange(self._exchange)
        await close_exchange(self._order_exchange)

    async def permissions(self) -> KeyPermissions:
        """What the venue says this account's key may do (trade, withdraw)."""
        return await key_permissions(self._exchange)

    async def snapshot(self) -> AccountSnapshot:
        """Fetch positions, collateral and margin now."""
        snapshot = await self._reader.snapshot()
        self._symbols.update(p.key.symbol for p in snapshot.positions)
        return snapshot

    async def open_orders(self) -> Sequence[OrderUpdate]:
        """Every open order of this account hedgebot placed."""
        raw = await self._reader.open_orders(sorted(self._symbols))
        return [u for u in (self._order_update(o) for o in raw) if u is not None]

    async def fills_since(self, timestamp_ms: int) -> Sequence[Fill]:
        """Our fills at or after `timestamp_ms`, oldest first."""
        raw = await self._reader.trades_since(timestamp_ms, sorted(self._symbols))
        fills = [f for f in (self._fill(t) for t in raw) if f is not None]
        return [f for f in fills if f.timestamp_ms >= timestamp_ms]

    async def fills_of(self, client_id: str, key: InstrumentKey) -> Sequence[Fill]:
        """Every fill of one of our orders, read by the venue's order id (clock-independent)."""
        found = await self.lookup(client_id, key)
        if found is None or not found.venue_order_id:
            return []
        symbol = self._catalog.get(key.symbol).ccxt_symbol
        try:
            if self._exchange_id.startswith("binance"):
                # ccxt 4.5.90's fetchOrderTrades serves Binance spot only; futures' userTrades
                # takes the order id (docs/venues.md)
                raw = await self._exchange.fetch_my_trades(
                    symbol, None, None, {"orderId": found.venue_order_id}
                )
            else:
                raw = await self._exchange.fetch_order_trades(found.venue_order_id, symbol)
        except Exception as exc:  # translated: no ccxt exception leaves the gateway
            raise translate_error(exc) from None
        return [f for f in (self._fill(t) for t in raw) if f is not None]

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        """Place a limit order (never retried)."""
        if not order.client_id.startswith(self._prefix):
            raise ValueError(f"client id {order.client_id!r} lacks the prefix {self._prefix!r}")
        self._symbols.add(order.key.symbol)
        return await self._entry.submit(order)

    async def cancel(self, client_id: str, key: InstrumentKey) -> None:
        """Cancel one of our orders (no error if it is already gone)."""
        await self._entry.cancel(client_id, key)

    async def lookup(self, client_id: str, key: InstrumentKey) -> OrderUpdate | None:
        """Find one of our orders by client id, open or not; None if the venue never saw it."""
        return await self._entry.lookup(client_id, key)

    async def stream(self, sink: AccountSink) -> None:
        """Push account, order and fill events into `sink` until cancelled.

        Raises AuthenticationFailed (bad or read-only keys); every other venue error is retried.
        """
        await self._reconcile_logged(sink, reason="start")
        async with asyncio.TaskGroup() as group:
            group.create_task(self._poll_account(sink))
            if self._exchange.has.get("watchOrders"):
                group.create_task(self._watch(sink, "orders", self._exchange.watch_orders))
            if self._exchange.has.get("watchMyTrades"):
                group.create_task(self._watch(sink, "trades", self._exchange.watch_my_trades))

    async def _poll_account(self, sink: AccountSink) -> None:
        failures = 0
        while True:
            try:
                sink.on_account(await self.snapshot())
                failures = 0
                wait = self._poll_interval_s
            except AuthenticationFailed:
                raise
            except VenueError as exc:
                retry_after = exc.retry_after if isinstance(exc, TransientVenueError) else None
                delay = self._backoff.delay(failures, retry_after=retry_after)
                wait = max(self._poll_interval_s, delay)
                failures += 1
                log.warning("broker.poll_failed", account=self.account, error=str(exc), wait_s=wait)
            await self._clock.sleep(wait)

    async def _watch(self, sink: AccountSink, stream: str, watch: Callable[[], Any]) -> None:
        failures = 0
        while True:
            try:
                # asyncio.timeout, not wait_for, which in Python 3.11 can drop a cancellation
                # that lands with the stream's answer (CPython gh-86296)
                async with asyncio.timeout(self._reconcile_interval_s):
                    items = await watch()
            except TimeoutError:
                # Quiet, or stalled (Deribit's receive loop stops after an error frame and
                # nothing says so): recycle the private websockets like a stale market feed,
                # then read over REST what they may have missed.
                await self._recycle_private(stream)
                await self._reconcile_logged(sink, reason=f"{stream} quiet")
                continue
            except asyncio.CancelledError:
                if is_own_cancellation():
                    raise
                items, error = None, VenueError(f"{stream} websocket closed")
            except Exception as exc:  # translated: no ccxt exception leaves the broker
                items, error = None, translate_error(exc)
            if items is not None:
                failures = 0
                self._dispatch(sink, stream, items)
                continue
            if isinstance(error, AuthenticationFailed):
                raise error
            retry_after = error.retry_after if isinstance(error, TransientVenueError) else None
            wait = self._backoff.delay(failures, retry_after=retry_after)
            failures += 1
            log.warning("broker.stream_dropped", stream=stream, error=str(error), wait_s=wait)
            await self._clock.sleep(wait)
            await self._reconcile_logged(sink, reason=f"{stream} reconnect")

    async def _recycle_private(self, stream: str) -> None:
        """Close the private websocket clients, at most once per quiet interval (both watches
        notice the same silence); the next watch reconnects, logs in and resubscribes."""
        now = self._clock.now_ms()
        if now - self._recycled_ms < self._reconcile_interval_s * 500:
            return
        self._recycled_ms = now
        log.warning("broker.stream_recycled", account=self.account, stream=stream)
        try:
            await self._exchange.close_ws_clients()
        except Exception as exc:  # a half-dead socket may fail to close: it is dropped anyway
            log.warning(
                "broker.recycle_failed", account=self.account, error=str(translate_error(exc))
            )

    def _dispatch(self, sink: AccountSink, stream: str, items: Iterable[Any]) -> None:
        for item in items:
            if stream == "orders":
                update = self._order_update(item)
                if update is not None:
                    sink.on_order(update)
            else:
                fill = self._fill(item)
                if fill is not None:
                    self._newest_fill_ms = max(self._newest_fill_ms, fill.timestamp_ms)
                    sink.on_fill(fill)

    async def _reconcile_logged(self, sink: AccountSink, *, reason: str) -> None:
        """Reconcile; a failure is logged (the poll and the next gap retry), bad keys are fatal."""
        try:
            await self._reconcile(sink)
        except AuthenticationFailed:
            raise
        except VenueError as exc:
            log.warning(
                "broker.reconcile_failed", account=self.account, reason=reason, error=str(exc)
            )

    async def _reconcile(self, sink: AccountSink) -> None:
        """Everything the streams may have missed: snapshot, open orders, recent fills."""
        sink.on_account(await self.snapshot())
        for update in await self.open_orders():
            sink.on_order(update)
        for fill in await self.fills_since(self._newest_fill_ms - FILL_OVERLAP_MS):
            self._newest_fill_ms = max(self._newest_fill_ms, fill.timestamp_ms)
            sink.on_fill(fill)
        log.info("broker.reconciled", account=self.account)

    def _order_update(self, order: Any) -> OrderUpdate | None:
        market = self._catalog.by_ccxt_symbol(order.get("symbol"))
        client_id = client_id_of(order, exchange_id=self._exchange_id)
        if market is None or not _hedgebot_id(client_id, self._prefix):
            return None
        try:
            update = order_update_from_ccxt(
                order, market, client_id=client_id, now_ms=self._clock.now_ms()
            )
        except BadVenueData as exc:
            log.error("broker.bad_order", client_id=client_id, reason=str(exc))
            return None
        self._entry.order_ids[update.venue_order_id] = client_id
        return update

    def _fill(self, trade: Any) -> Fill | None:
        market = self._catalog.by_ccxt_symbol(trade.get("symbol"))
        client_id = client_id_of(trade, exchange_id=self._exchange_id) or self._entry.order_ids.get(
            str(trade.get("order")), ""
        )
        if market is None or not _hedgebot_id(client_id, self._prefix):
            return None
        try:
            return fill_from_ccxt_trade(trade, market, account=self.account, client_id=client_id)
        except BadVenueData as exc:
            log.error("broker.bad_fill", client_id=client_id, reason=str(exc))
            return None


def _hedgebot_id(client_id: str, own_prefix: str) -> bool:
    """Ours, or another hedgebot installation's (passed on so the fence can see it)."""
    return client_id.startswith(own_prefix) or installation_of(client_id) is not None


async def _load_markets(exchange: Any, clock: Clock) -> None:
    await retry_call(
        exchange.load_markets, operation="load_markets", clock=clock, backoff=Backoff()
    )


async def _load_catalog(exchange: Any, *, venue: str, clock: Clock) -> MarketCatalog:
    await _load_markets(exchange, clock)
    return MarketCatalog.from_ccxt(
        exchange.markets,
        venue=venue,
        exchange_id=exchange.id,
        precision_mode=int(exchange.precisionMode),
    )
