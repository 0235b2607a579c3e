"""Accounts, orders, positions and matching of the local Binance USDⓈ-M exchange.

Owns `Ledger`: per account the USDT wallet, the position mode (one-way: one ``BOTH`` position per
symbol; hedge mode, Binance's "dual side position": separate ``LONG`` and ``SHORT``), positions
with entry prices, orders and trades. Orders are checked as Binance documents it, each refusal a
`Rejection` with Binance's code and message: price on the tick (-4014), quantity on the step and
above the minimum (-1013 LOT_SIZE), notional at least the minimum unless reduce-only (-4164),
``positionSide`` matching the account's mode (-4061), ``reduceOnly`` refused in hedge mode
(-1106) and refused when it would grow a one-way position (-2022), a duplicate open
``newClientOrderId`` (-4116), initial margin within the available balance (-2019).

Matching: a limit order that crosses the touch fills at once at the touch (taker fee); otherwise
it rests and fills at its price when the touch reaches it (maker fee), checked on every `tick`.
Liquidity at the touch is unlimited: an assumption of this local exchange, not Binance's.

It must not know HTTP or ccxt.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal

from hedgebot_localvenues.binance_usdm.markets import Contract

MAKER_FEE = 0.0002
TAKER_FEE = 0.0005
LEVERAGE = 20
HALF_SPREAD = 0.00005
"""Half the bid-ask spread as a fraction of the index (about 3 ticks on BTCUSDT)."""


@dataclass(frozen=True, slots=True)
class Rejection(Exception):
    """A refusal with Binance's error code, message and HTTP status."""

    code: int
    msg: str
    status: int = 400


@dataclass(slots=True)
class Order:
    """One order as Binance reports it."""

    order_id: int
    client_id: str
    symbol: str
    side: str
    position_side: str
    price: float
    quantity: float
    reduce_only: bool
    time_in_force: str
    time_ms: int
    update_ms: int
    executed: float = 0.0
    cum_quote: float = 0.0
    status: str = "NEW"

    @property
    def open(self) -> bool:
        """Still working."""
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def avg_price(self) -> float:
        """Average fill price (0 before the first fill)."""
        return self.cum_quote / self.executed if self.executed else 0.0


@dataclass(frozen=True, slots=True)
class Trade:
    """One execution of one of our orders."""

    trade_id: int
    order: Order
    price: float
    qty: float
    realized_pnl: float
    commission: float
    maker: bool
    time_ms: int


@dataclass(slots=True)
class Position:
    """One position leg: signed quantity in coin and entry price."""

    amount: float = 0.0
    entry: float = 0.0
    update_ms: int = 0


@dataclass(slots=True)
class Account:
    """One account: wallet, mode, positions, orders and trades."""

    name: str
    wallet: float
    dual_side: bool = False
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)

    def position(self, symbol: str, side: str) -> Position:
        """The leg `side` (BOTH, LONG, SHORT) of `symbol`, created flat on first use."""
        return self.positions.setdefault((symbol, side), Position())


@dataclass(frozen=True, slots=True)
class Touch:
    """Best bid and ask of one contract."""

    bid: float
    ask: float


class Ledger:
    """Every account of the local exchange and the matching of their orders."""

    def __init__(self, contracts: dict[str, Contract]) -> None:
        self.contracts = contracts
        self.accounts: dict[str, Account] = {}
        self._order_ids = itertools.count(4_000_000_001)
        self._trade_ids = itertools.count(900_000_001)
        self.marks: dict[str, float] = {}
        self.touches: dict[str, Touch] = {}
        self.events: list[tuple[str, Order, Trade | None]] = []
        """Order events (account, order, trade) not yet pushed to the user-data streams."""

    def add_account(self, name: str, *, wallet: float, dual_side: bool = False) -> Account:
        """Open an account with `wallet` USDT."""
        account = Account(name=name, wallet=wallet, dual_side=dual_side)
        self.accounts[name] = account
        return account

    def seed_position(self, name: str, symbol: str, amount: float, price: float) -> None:
        """Start an account with a position (one-way: BOTH; hedge mode: LONG or SHORT)."""
        account = self.accounts[name]
        side = "BOTH" if not account.dual_side else ("LONG" if amount > 0 else "SHORT")
        leg = account.position(symbol, side)
        leg.amount, leg.entry = amount, price

    def set_index(self, symbol: str, index: float, now_ms: int) -> None:
        """New mark and touch of `symbol` from its index; resting orders that cross fill."""
        tick = float(self.contracts[symbol].tick_size)
        self.marks[symbol] = index
        bid = _floor_to(index * (1 - HALF_SPREAD), tick)
        ask = max(_ceil_to(index * (1 + HALF_SPREAD), tick), bid + tick)
        self.touches[symbol] = Touch(bid=bid, ask=ask)
        for account in self.accounts.values():
            for order in list(account.orders.values()):
                if order.open and order.symbol == symbol and self._crosses(order, maker=True):
                    self._fill(account, order, order.price, maker=True, now_ms=now_ms)

    def place(
        self,
        name: str,
        *,
        symbol: str,
        side: str,
        order_type: str,
        quantity: float,
        price: float | None,
        position_side: str | None,
        reduce_only: bool,
        client_id: str,
        time_in_force: str,
        now_ms: int,
    ) -> Order:
        """Check and place an order; raises `Rejection` with Binance's code."""
        account = self.accounts[name]
        contract = self.contracts.get(symbol)
        if contract is None:
            raise Rejection(-1121, "Invalid symbol.")
        if side not in ("BUY", "SELL"):
            raise Rejection(-1117, "Invalid side.")
        if order_type != "LIMIT" or price is None:
            raise Rejection(-1116, "Invalid orderType.")
        leg = self._check_position_side(account, position_side, reduce_only)
        _check_multiple(price, contract.tick_size, -4014, "Price not increased by tick size.")
        if quantity < float(contract.min_qty) or quantity > float(contract.max_qty):
            raise Rejection(-4003, "Quantity less than or equal to zero.")
        _check_multiple(quantity, contract.step_size, -1013, "Filter failure: LOT_SIZE")
        if any(o.open and o.client_id == client_id for o in account.orders.values()):
            raise Rejection(-4116, "ClientOrderId is duplicated.")
        signed = quantity if side == "BUY" else -quantity
        current = account.position(symbol, leg).amount
        reduces = current != 0 and (current > 0) != (signed > 0) and quantity <= abs(current)
        if leg != "BOTH":  # hedge mode: selling LONG or buying SHORT closes
            reduces = (leg == "LONG") == (side == "SELL")
        if reduce_only and not reduces:
            raise Rejection(-2022, "ReduceOnly Order is rejected.")
        notional = quantity * price
        if not reduce_only and notional < float(contract.min_notional):
            raise Rejection(
                -4164,
                f"Order's notional must be no smaller than {contract.min_notional} "
                "(unless you choose reduce only).",
            )
        if not reduces and notional / LEVERAGE > self.available(account):
            raise Rejection(-2019, "Margin is insufficient.")
        order = Order(
            order_id=next(self._order_ids),
            client_id=client_id,
            symbol=symbol,
            side=side,
            position_side=leg,
            price=price,
            quantity=quantity,
            reduce_only=reduce_only,
            time_in_force=time_in_force,
            time_ms=now_ms,
            update_ms=now_ms,
        )
        account.orders[order.order_id] = order
        self.events.append((name, order, None))
        if symbol in self.touches and self._crosses(order, maker=False):
            touch = self.touches[symbol]
            self._fill(
                account,
                order,
                touch.ask if side == "BUY" else touch.bid,
                maker=False,
                now_ms=now_ms,
            )
        elif time_in_force == "IOC":
            order.status = "EXPIRED"
        return order

    def cancel(self, name: str, order: Order, now_ms: int) -> Order:
        """Cancel an open order; raises `Rejection` -2011 for one already finished."""
        if not order.open:
            raise Rejection(-2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_ms = now_ms
        self.events.append((name, order, None))
        return order

    def find(self, name: str, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        """An order of `name` by id or client id; raises `Rejection` -2013 if unknown."""
        account = self.accounts[name]
        candidates = [
            o
            for o in account.orders.values()
            if o.symbol == symbol
            and (order_id is None or o.order_id == order_id)
            and (client_id is None or o.client_id == client_id)
        ]
        if not candidates:
            raise Rejection(-2013, "Order does not exist.")
        return max(candidates, key=lambda o: o.time_ms)

    def unrealized(self, account: Account) -> float:
        """Unrealized profit of every position at the mark."""
        total = 0.0
        for (symbol, _), leg in account.positions.items():
            mark = self.marks.get(symbol, leg.entry)
            total += leg.amount * (mark - leg.entry)
        return total

    def initial_margin(self, account: Account) -> float:
        """Initial margin of positions plus open orders."""
        positions = sum(
            abs(leg.amount) * self.marks.get(s, leg.entry)
            for (s, _), leg in account.positions.items()
        )
        orders = sum((o.quantity - o.executed) * o.price for o in account.orders.values() if o.open)
        return (positions + orders) / LEVERAGE

    def maint_margin(self, account: Account) -> float:
        """Maintenance margin of the positions (first bracket rate)."""
        return sum(
            abs(leg.amount) * self.marks.get(s, leg.entry) * self.contracts[s].maint_rate
            for (s, _), leg in account.positions.items()
        )

    def available(self, account: Account) -> float:
        """Margin balance less initial margin."""
        return account.wallet + self.unrealized(account) - self.initial_margin(account)

    def _check_position_side(self, account: Account, side: str | None, reduce_only: bool) -> str:
        wanted = side or "BOTH"
        if account.dual_side:
            if wanted not in ("LONG", "SHORT"):
                raise Rejection(-4061, "Order's position side does not match user's setting.")
            if reduce_only:
                raise Rejection(-1106, "Parameter 'reduceOnly' sent when not required.")
            return wanted
        if wanted != "BOTH":
            raise Rejection(-4061, "Order's position side does not match user's setting.")
        return "BOTH"

    def _crosses(self, order: Order, *, maker: bool) -> bool:
        touch = self.touches.get(order.symbol)
        if touch is None:
            return False
        if order.side == "BUY":
            return touch.ask <= order.price if not maker else touch.ask < order.price
        return touch.bid >= order.price if not maker else touch.bid > order.price

    def _fill(
        self, account: Account, order: Order, price: float, *, maker: bool, now_ms: int
    ) -> None:
        qty = order.quantity - order.executed
        leg = account.position(order.symbol, order.position_side)
        signed = qty if order.side == "BUY" else -qty
        realized = 0.0
        if leg.amount != 0 and (leg.amount > 0) != (signed > 0):
            closed = min(abs(signed), abs(leg.amount))
            realized = closed * (price - leg.entry) * (1 if leg.amount > 0 else -1)
            remaining = leg.amount + signed
            if abs(remaining) < 1e-12:
                leg.amount, leg.entry = 0.0, 0.0
            elif (remaining > 0) == (leg.amount > 0):
                leg.amount = remaining
            else:
                leg.amount, leg.entry = remaining, price
        else:
            total = leg.amount + signed
            leg.entry = (leg.amount * leg.entry + signed * price) / total
            leg.amount = total
        leg.amount = round(leg.amount, 9)
        leg.update_ms = now_ms
        commission = qty * price * (MAKER_FEE if maker else TAKER_FEE)
        account.wallet += realized - commission
        order.executed = order.quantity
        order.cum_quote += qty * price
        order.status = "FILLED"
        order.update_ms = now_ms
        trade = Trade(
            trade_id=next(self._trade_ids),
            order=order,
            price=price,
            qty=qty,
            realized_pnl=realized,
            commission=commission,
            maker=maker,
            time_ms=now_ms,
        )
        account.trades.append(trade)
        self.events.append((account.name, order, trade))


def _check_multiple(value: float, step: str, code: int, msg: str) -> None:
    ratio = Decimal(repr(value)) / Decimal(step)
    if ratio != ratio.to_integral_value():
        raise Rejection(code, msg)


def _floor_to(value: float, tick: float) -> float:
    return round(int(value / tick) * tick, 8)


def _ceil_to(value: float, tick: float) -> float:
    return round(-int(-value / tick) * tick, 8)
