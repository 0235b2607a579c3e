"""The matching engine of the simulated and paper venues: orders, fills and their bookings.

Owns the order lifecycle, synchronously and with explicit timestamps (no clock, no I/O), so the
same object serves the simulator (driven by synthetic books) and the paper broker (driven by real
quotes). Balances and positions live in its `SimAccounts` (`ledger.accounts`).

* `submit` validates an `OrderRequest` (unique client id, known live instrument, the static
  checks of `hedgebot.venues.sim.ordercheck`, then margin) and acks it OPEN, or records it REJECTED
  with a reason; a duplicate client id is refused without touching the original order;
* `activate_due` makes orders live `latency_ms` after submission and matches them as takers: they
  walk the book up to their limit, one fill per level, and any rest rests at the limit;
* `match_resting` fills resting orders as makers, at their limit, when a book crosses them;
* `apply_funding` and `expire` move cash for perpetual funding and expiry settlement;
* `liquidate_due` liquidates, as Deribit does once maintenance margin reaches equity: every open
  order of the account is cancelled and every position settled in that currency is closed at its
  mark (Deribit liquidates incrementally and charges a fee; the simulator closes all at once, with
  no fee). Each liquidation is kept in `liquidations`.

Liquidity: books of one instrument with the same timestamp are one snapshot, and what an order
takes from it is gone for the next order matched against that snapshot; a newer book is fresh
liquidity. Our own resting orders are not added to the books.

Margin: an order is rejected when the account's initial margin in the order's settlement
currency, projected as if it and every other open order of the account filled at their limits,
exceeds the projected equity, unless it is no higher than without the order (the order reduces
risk). Margin is checked at submission only. Reduce-only orders are capped at the
position when they match; an excess is cancelled. Events (order updates, fills, balance changes)
queue up for the driver to `drain_events`. It must not generate prices.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from hedgebot.core.margin_model import MarginRates
from hedgebot.model.instruments import Instrument, InstrumentKey, Kind
from hedgebot.model.orders import Fill, OrderRequest, OrderStatus, OrderUpdate, Side
from hedgebot.venues.sim.accounting import expiry_cash, funding_cash
from hedgebot.venues.sim.accounts import (
    AccountSeed,
    InstrumentResolver,
    MarkSource,
    PlannedTrade,
    SimAccounts,
)
from hedgebot.venues.sim.book import OrderBook, takeable
from hedgebot.venues.sim.catalog import settlement_currency
from hedgebot.venues.sim.fees import trade_fee
from hedgebot.venues.sim.margin import in_liquidation
from hedgebot.venues.sim.ordercheck import order_problem
from hedgebot.venues.sim.settings import FeeSettings

BookSource = Callable[[Instrument], OrderBook | None]
"""Current depth of an instrument, None where there is none."""
_Taken = dict[float, int]
"""Contracts already taken from each price level of one book snapshot."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEvent:
    """Something an account's stream must hear; with neither order nor fill: balances changed."""

    account: str
    order: OrderUpdate | None = None
    fill: Fill | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidation:
    """One account's positions in one currency closed because MM reached equity."""

    account: str
    currency: str
    timestamp_ms: int
    equity: float
    maintenance_margin: float
    closed: tuple[InstrumentKey, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Order:
    request: OrderRequest
    instrument: Instrument | None
    venue_order_id: str
    live_at_ms: int
    lots: int
    filled_lots: int = 0
    status: OrderStatus = OrderStatus.OPEN
    reason: str = ""
    updated_ms: int

    @property
    def remaining_lots(self) -> int:
        return self.lots - self.filled_lots

    @property
    def contract_size(self) -> float:
        return self.instrument.contract_size if self.instrument is not None else 1.0

    def update(self) -> OrderUpdate:
        return OrderUpdate(
            client_id=self.request.client_id,
            venue_order_id=self.venue_order_id,
            key=self.request.key,
            status=self.status,
            filled_amount=round(self.filled_lots * self.contract_size, 10),
            timestamp_ms=self.updated_ms,
            reason=self.reason,
        )


class Ledger:
    """Orders and fills of every account of one venue, booked into an `SimAccounts`."""

    def __init__(
        self,
        *,
        venue: str,
        instruments: InstrumentResolver,
        marks: MarkSource,
        fees: FeeSettings,
        margin: MarginRates,
        latency_ms: int,
        accounts: Mapping[str, AccountSeed],
        id_prefix: str = "",
    ) -> None:
        self.venue = venue
        self.id_prefix = id_prefix
        """Distinguishes this ledger's ids from an earlier instance's: a restarted simulator is a
        new venue history, and its trade ids must not collide with journaled ones."""
        self.accounts = SimAccounts(
            venue=venue, instruments=instruments, marks=marks, margin=margin, seeds=accounts
        )
        self._fees = fees
        self._latency_ms = latency_ms
        self._orders: dict[str, _Order] = {}
        self._open: dict[str, None] = {}
        self._pending: list[tuple[int, int, str]] = []
        self._resting: dict[InstrumentKey, list[str]] = {}
        self._taken: dict[InstrumentKey, tuple[int, _Taken]] = {}
        self._fills: list[Fill] = []
        self._fill_times: list[int] = []
        self._events: list[LedgerEvent] = []
        self.liquidations: list[Liquidation] = []
        """Every liquidation so far, oldest first."""

    # --- order entry --------------------------------------------------------------------------

    def submit(self, order: OrderRequest, now_ms: int) -> OrderUpdate:
        """Accept an order (OPEN, live after the latency) or reject it (REJECTED with a reason)."""
        if order.client_id in self._orders:
            return OrderUpdate(
                client_id=order.client_id,
                venue_order_id="",
                key=order.key,
                status=OrderStatus.REJECTED,
                filled_amount=0.0,
                timestamp_ms=now_ms,
                reason="duplicate client_id",
            )
        instrument, problem = self._check(order, now_ms)
        size = instrument.contract_size if instrument is not None else 1.0
        record = _Order(
            request=order,
            instrument=instrument,
            venue_order_id=f"{self.venue}-{self.id_prefix}{len(self._orders) + 1}",
            live_at_ms=now_ms + self._latency_ms,
            lots=round(order.amount / size),
            status=OrderStatus.REJECTED if problem else OrderStatus.OPEN,
            reason=problem,
            updated_ms=now_ms,
        )
        self._orders[order.client_id] = record
        if not problem:
            self._open[order.client_id] = None
            heapq.heappush(self._pending, (record.live_at_ms, len(self._orders), order.client_id))
            self._events.append(LedgerEvent(account=order.account, order=record.update()))
        return record.update()

    def cancel(self, client_id: str, now_ms: int) -> OrderUpdate | None:
        """Cancel an order unless it is already terminal; None if it was never seen."""
        record = self._orders.get(client_id)
        if record is None:
            return None
        if not record.status.is_terminal:
            record = self._finish(record, OrderStatus.CANCELLED, "cancelled", now_ms)
        return record.update()

    def lookup(self, client_id: str, account: str | None = None) -> OrderUpdate | None:
        """The latest state of any order ever accepted or rejected, optionally of one account."""
        record = self._orders.get(client_id)
        if record is None or (account is not None and record.request.account != account):
            return None
        return record.update()

    def open_orders(self, account: str | None = None) -> list[OrderUpdate]:
        """Orders not yet filled, cancelled or rejected, oldest first."""
        return [r.update() for r in self._open_records(account)]

    def fills_since(self, timestamp_ms: int, account: str | None = None) -> list[Fill]:
        """Fills at or after `timestamp_ms`, oldest first."""
        start = bisect.bisect_left(self._fill_times, timestamp_ms)
        return [f for f in self._fills[start:] if account is None or f.account == account]

    def drain_events(self) -> list[LedgerEvent]:
        """Events since the last drain, oldest first."""
        events, self._events = self._events, []
        return events

    # --- matching -----------------------------------------------------------------------------

    def next_activation_ms(self) -> int | None:
        """When the earliest submitted order becomes live, if one is waiting."""
        while self._pending and self._pending[0][2] not in self._open:
            heapq.heappop(self._pending)
        return self._pending[0][0] if self._pending else None

    def activate_due(self, now_ms: int, books: BookSource) -> None:
        """Make live every order whose latency has elapsed, matching each as a taker."""
        while (due := self.next_activation_ms()) is not None and due <= now_ms:
            record = self._orders[heapq.heappop(self._pending)[2]]
            instrument = record.instrument
            assert instrument is not None  # accepted orders always know their instrument
            if _expired(instrument, now_ms):
                self._finish(record, OrderStatus.CANCELLED, "instrument expired", now_ms)
                continue
            book = books(instrument)
            if book is not None:
                record = self._take(record, book, now_ms, maker=False)
            if not record.status.is_terminal:
                self._resting.setdefault(instrument.key, []).append(record.request.client_id)

    def resting_limits(self) -> dict[InstrumentKey, tuple[float | None, float | None]]:
        """(highest buy limit, lowest sell limit) of the live resting orders of each instrument."""
        limits: dict[InstrumentKey, tuple[float | None, float | None]] = {}
        for key, client_ids in self._resting.items():
            requests = [self._orders[c].request for c in client_ids]
            buys = [r.limit_price for r in requests if r.side is Side.BUY]
            sells = [r.limit_price for r in requests if r.side is Side.SELL]
            limits[key] = (max(buys, default=None), min(sells, default=None))
        return limits

    def match_resting(self, book: OrderBook, now_ms: int) -> None:
        """Fill the resting orders of the book's instrument it crosses, as makers at their limit."""
        for client_id in list(self._resting.get(book.key, ())):
            self._take(self._orders[client_id], book, now_ms, maker=True)

    # --- cash events --------------------------------------------------------------------------

    def apply_funding(
        self, instrument: Instrument, *, rate: float, mark: float, now_ms: int
    ) -> None:
        """Move one funding payment of a perpetual between its holders' collateral."""
        currency = settlement_currency(instrument)
        for account in self.accounts.holders(instrument.key):
            amount = self.accounts.holding(account, instrument.key).amount
            cash = funding_cash(instrument, amount, rate=rate, mark=mark)
            self.accounts.credit(account, currency, cash)
            self._events.append(LedgerEvent(account=account))

    def expire(self, instrument: Instrument, *, settlement_price: float, now_ms: int) -> None:
        """Cancel the orders of an expiring instrument and settle its positions into collateral."""
        for record in self._open_records(None):
            if record.instrument == instrument:
                self._finish(record, OrderStatus.CANCELLED, "instrument expired", now_ms)
        currency = settlement_currency(instrument)
        for account in self.accounts.holders(instrument.key):
            holding = self.accounts.close(account, instrument.key)
            self.accounts.credit(
                account, currency, expiry_cash(instrument, holding, settlement_price)
            )
            self._events.append(LedgerEvent(account=account))

    def liquidate_due(self, now_ms: int) -> list[Liquidation]:
        """Liquidate every account currency whose maintenance margin has reached its equity."""
        done = []
        for account in self.accounts.names:
            for state in self.accounts.margin(account):
                if not in_liquidation(state):
                    continue
                for record in self._open_records(account):
                    self._finish(record, OrderStatus.CANCELLED, "liquidation", now_ms)
                closed = self.accounts.liquidate(account, state.currency)
                liquidation = Liquidation(
                    account=account,
                    currency=state.currency,
                    timestamp_ms=now_ms,
                    equity=state.equity,
                    maintenance_margin=state.maintenance_margin,
                    closed=tuple(i.key for i in closed),
                )
                self.liquidations.append(liquidation)
                done.append(liquidation)
                self._events.append(LedgerEvent(account=account))
        return done

    # --- internals ----------------------------------------------------------------------------

    def _check(self, order: OrderRequest, now_ms: int) -> tuple[Instrument | None, str]:
        if order.account not in self.accounts.names:
            return None, f"unknown account {order.account!r}"
        if order.key.venue != self.venue:
            return None, f"order for venue {order.key.venue!r} sent to {self.venue!r}"
        try:
            instrument = self.accounts.instrument(order.key)
        except ValueError as error:
            return None, f"unknown instrument: {error}"
        if _expired(instrument, now_ms):
            return instrument, "instrument expired"
        siblings = [r for r in self._open_records(order.account) if r.instrument == instrument]
        problem = order_problem(
            instrument,
            order,
            holding=self.accounts.holding(order.account, instrument.key),
            open_orders=[
                (r.request, r.remaining_lots * instrument.contract_size) for r in siblings
            ],
        )
        return instrument, problem or self._margin_problem(order, instrument)

    def _margin_problem(self, order: OrderRequest, instrument: Instrument) -> str:
        if self.accounts.mark(instrument) is None:
            return f"no market data for {order.key.symbol}"
        currency = settlement_currency(instrument)
        planned = [
            self._planned(r.request, r.remaining_lots) for r in self._open_records(order.account)
        ]
        before = self.accounts.projected_margin(order.account, currency, planned)
        planned.append(self._planned(order, round(order.amount / instrument.contract_size)))
        after = self.accounts.projected_margin(order.account, currency, planned)
        if after.initial_margin > after.equity and after.initial_margin > before.initial_margin:
            return (
                f"insufficient margin: projected initial margin {after.initial_margin:.8g} "
                f"{currency} above equity {after.equity:.8g}"
            )
        return ""

    def _planned(self, request: OrderRequest, lots: int) -> PlannedTrade:
        """The order filled at its limit, as a trade whose margin effect can be projected."""
        instrument = self.accounts.instrument(request.key)
        amount = lots * instrument.contract_size
        fee = self._fee(instrument, amount, request.limit_price, maker=False)
        return instrument, request.side.sign * amount, request.limit_price, fee

    def _take(self, record: _Order, book: OrderBook, now_ms: int, *, maker: bool) -> _Order:
        request, instrument = record.request, record.instrument
        assert instrument is not None
        wanted = self._fillable_lots(record)
        taken = self._liquidity_taken(book)
        filled = 0
        for price, lots in takeable(
            book, request.side, request.limit_price, instrument.contract_size
        ):
            size = min(wanted - filled, lots - taken.get(price, 0))
            if size > 0:
                taken[price] = taken.get(price, 0) + size
                self._execute(
                    record, request.limit_price if maker else price, size, now_ms, maker=maker
                )
                filled += size
            if filled == wanted:
                break
        if filled:
            lots_done = record.filled_lots + filled
            status = (
                OrderStatus.FILLED if lots_done == record.lots else OrderStatus.PARTIALLY_FILLED
            )
            record = self._store(
                replace(record, filled_lots=lots_done, status=status, updated_ms=now_ms)
            )
            self._events.append(LedgerEvent(account=request.account, order=record.update()))
        if not record.status.is_terminal and self._fillable_lots(record) == 0:
            record = self._finish(
                record, OrderStatus.CANCELLED, "reduce_only: position closed", now_ms
            )
        return record

    def _liquidity_taken(self, book: OrderBook) -> _Taken:
        """What earlier orders took from this snapshot of the book: books of one instrument with
        the same timestamp are one snapshot, whose liquidity is taken only once."""
        last = self._taken.get(book.key)
        if last is None or last[0] != book.timestamp_ms:
            last = self._taken[book.key] = (book.timestamp_ms, {})
        return last[1]

    def _fillable_lots(self, record: _Order) -> int:
        if not record.request.reduce_only:
            return record.remaining_lots
        position = self.accounts.holding(record.request.account, record.request.key).amount
        if position == 0 or (position > 0) == (record.request.side is Side.BUY):
            return 0
        return min(record.remaining_lots, round(abs(position) / record.contract_size))

    def _execute(
        self, record: _Order, price: float, lots: int, now_ms: int, *, maker: bool
    ) -> None:
        request, instrument = record.request, record.instrument
        assert instrument is not None
        amount = round(lots * instrument.contract_size, 10)
        fee = self._fee(instrument, amount, price, maker=maker)
        self.accounts.apply_trade(
            request.account, instrument, request.side.sign * amount, price, fee
        )
        fill = Fill(
            trade_id=f"{self.venue}-{self.id_prefix}T{len(self._fills) + 1}",
            client_id=request.client_id,
            account=request.account,
            key=request.key,
            side=request.side,
            amount=amount,
            price=price,
            fee=fee,
            fee_currency=settlement_currency(instrument),
            timestamp_ms=now_ms,
        )
        self._fills.append(fill)
        self._fill_times.append(now_ms)
        self._events.append(LedgerEvent(account=request.account, fill=fill))

    def _fee(self, instrument: Instrument, amount: float, price: float, *, maker: bool) -> float:
        quote = self.accounts.mark(instrument) if instrument.kind is Kind.OPTION else None
        return trade_fee(
            instrument,
            amount=amount,
            price=price,
            underlying_price=quote.underlying_price if quote is not None else price,
            maker=maker,
            fees=self._fees,
        )

    def _finish(self, record: _Order, status: OrderStatus, reason: str, now_ms: int) -> _Order:
        record = self._store(replace(record, status=status, reason=reason, updated_ms=now_ms))
        self._events.append(LedgerEvent(account=record.request.account, order=record.update()))
        return record

    def _store(self, record: _Order) -> _Order:
        client_id = record.request.client_id
        self._orders[client_id] = record
        if record.status.is_terminal:
            self._open.pop(client_id, None)
            resting = self._resting.get(record.request.key)
            if resting is not None and client_id in resting:
                resting.remove(client_id)
                if not resting:
                    del self._resting[record.request.key]
        return record

    def _open_records(self, account: str | None) -> list[_Order]:
        records = (self._orders[c] for c in self._open)
        return [r for r in records if account is None or r.request.account == account]


def _expired(instrument: Instrument, now_ms: int) -> bool:
    return instrument.expiry_ms is not None and instrument.expiry_ms <= now_ms
