"""Shared state of the local Deribit exchange, and the figures derived from it.

Owns `VenueState`: the simulated venue and its clock, the instrument listing, the authenticator,
the order registry, and the listeners told about every order and trade change (the websocket
hub). It values positions and accounts the way Deribit reports them (`PositionFigures`,
`AccountFigures`) and folds broker events into the registry (`on_update`, `on_fill`).

It must not know about transports or JSON-RPC framing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from hedgebot.clock import Clock
from hedgebot.model.account import AccountSnapshot, MarginState, Position
from hedgebot.model.instruments import Instrument, Kind
from hedgebot.model.orders import Fill, OrderUpdate
from hedgebot.venues.ports import Broker
from hedgebot_localvenues.deribit.auth import Authenticator
from hedgebot_localvenues.deribit.backend import MarketView, SimExchange
from hedgebot_localvenues.deribit.registry import OrderRecord, OrderRegistry, TradeRecord
from hedgebot_localvenues.deribit.rpc import INVALID_INSTRUMENT, RpcError
from hedgebot_localvenues.deribit.wire_account import AccountFigures, PositionFigures
from hedgebot_localvenues.deribit.wire_market import (
    index_name_of,
    settlement_currency_of,
    ticker_json,
    underlying_index_of,
)

JsonDict = dict[str, object]


class AccountListener(Protocol):
    """Told about every change of an order, every new trade and every account snapshot."""

    def order_changed(self, record: OrderRecord) -> None:
        """An order changed state."""
        ...

    def trade_added(self, trade: TradeRecord) -> None:
        """One of our orders filled (once per trade id)."""
        ...

    def account_changed(self, snapshot: AccountSnapshot) -> None:
        """Positions, collateral or margin of an account changed."""
        ...


class VenueState:
    """Everything the method handlers and the websocket hub share."""

    def __init__(
        self,
        *,
        exchange: SimExchange,
        clock: Clock,
        instruments: Sequence[Instrument],
        authenticator: Authenticator,
        listed_ms: int,
        activation_ms: int = 0,
        activation_timeout_s: float = 5.0,
    ) -> None:
        self.clock = clock
        self.activation_ms = activation_ms
        self.activation_timeout_s = activation_timeout_s
        self.market = MarketView(exchange, {i.symbol: i for i in instruments})
        self.auth = authenticator
        self.registry = OrderRegistry()
        self.listed_ms = listed_ms
        self._exchange = exchange
        self._listeners: list[AccountListener] = []
        self._activations: dict[str, int | None] = {}
        self._tick = asyncio.Event()
        self.residual_at_create: dict[str, dict[str, float]] = {}
        """Per order id: each currency's equity + delta_total the moment its create arrived
        (what the account still needed, as the venue itself figured it; read by test probes)."""

    # ---- basics --------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Simulated exchange time."""
        return self.clock.now_ms()

    def broker(self, account: str) -> Broker:
        """The simulated broker of an account."""
        return self._exchange.broker(account)

    def account_id(self, account: str) -> int:
        """Deribit's numeric id of an account (stable for the life of the exchange)."""
        names = self.auth.accounts()
        return 100_001 + (names.index(account) if account in names else len(names))

    def add_listener(self, listener: AccountListener) -> None:
        """Tell `listener` about every order, trade and account change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: AccountListener) -> None:
        """Stop telling `listener` about changes (no-op if it was not listening)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def instrument(self, symbol: str) -> Instrument:
        """A listed instrument; Deribit's invalid-instrument error otherwise."""
        instrument = self.market.instrument(symbol)
        if instrument is None:
            raise RpcError(INVALID_INSTRUMENT, data={"param": "instrument_name", "reason": symbol})
        return instrument

    def instruments(self) -> list[Instrument]:
        """Every listed instrument."""
        return list(self.market.instruments.values())

    def currencies(self) -> list[str]:
        """Every currency something is based on or settled in, sorted."""
        codes = {i.underlying for i in self.instruments()}
        codes.update(settlement_currency_of(i) for i in self.instruments())
        return sorted(codes)

    def index_names(self) -> dict[str, str]:
        """Deribit index name (``btc_usd``) to underlying."""
        names: dict[str, str] = {}
        for instrument in self.instruments():
            names[index_name_of(instrument)] = instrument.underlying
            names[f"{instrument.underlying.lower()}_usd"] = instrument.underlying
        return names

    def ticker(self, instrument: Instrument) -> JsonDict:
        """The ticker of one instrument now."""
        quote = self.market.quote(instrument)
        return ticker_json(
            instrument,
            quote,
            self.market.index(instrument.underlying),
            self.market.depth(instrument),
            band=self.market.price_band(instrument, quote),
            greeks=self.market.greeks(instrument, quote, self.now_ms()),
            underlying_index=underlying_index_of(instrument, set(self.market.instruments)),
        )

    # ---- activation of submitted legs ----------------------------------------------------
    def expect_activation(self, leg: str) -> None:
        """A leg was just submitted: it turns live `activation_ms` later, at a clock step."""
        self._activations[leg] = None

    def ticked(self) -> None:
        """The clock advanced (and the venue matched): mark legs that are live now."""
        now = self.now_ms()
        for leg, active_ms in list(self._activations.items()):
            record = self.registry.owner_of(leg)
            if record is None or _settled_long_ago(record, active_ms, now):
                del self._activations[leg]
            elif active_ms is None and record.submitted_ms + self.activation_ms <= now:
                self._activations[leg] = now
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def next_tick(self) -> None:
        """Wait for the next clock advance."""
        await self._tick.wait()

    async def until_active(self, leg: str) -> None:
        """Wait (a few clock steps at most) until the matching engine has activated a leg."""
        try:
            async with asyncio.timeout(self.activation_timeout_s):
                while self._activations.get(leg, 0) is None:
                    await self._tick.wait()
        except TimeoutError:
            return

    def _liquidity(self, fill: Fill) -> str:
        """T for fills on arrival (at the leg's activation), M for fills while resting."""
        active_ms = self._activations.get(fill.client_id)
        return "T" if active_ms is None or fill.timestamp_ms <= active_ms else "M"

    # ---- broker events -------------------------------------------------------------------
    def on_update(self, update: OrderUpdate) -> OrderRecord | None:
        """Fold a broker order update into the registry and tell the listeners."""
        before = self.registry.owner_of(update.client_id)
        record = self.registry.apply_update(update)
        if record is not None and record != before:
            for listener in self._listeners:
                listener.order_changed(record)
        return record

    def on_fill(self, fill: Fill) -> TradeRecord | None:
        """Record a fill once, with the market context Deribit reports, and tell listeners."""
        instrument = self.market.instrument(fill.key.symbol)
        if instrument is None:
            return None
        quote = self.market.quote(instrument)
        is_option = instrument.kind is Kind.OPTION
        trade = self.registry.apply_fill(
            fill,
            liquidity=self._liquidity(fill),
            mark_price=quote.mark_price,
            index_price=self.market.index(instrument.underlying).price,
            iv=round(quote.mark_iv * 100, 2) if is_option and quote.mark_iv else None,
            underlying_price=quote.underlying_price if is_option else None,
        )
        if trade is not None:
            for listener in self._listeners:
                listener.trade_added(trade)
        return trade

    def on_record(self, record: OrderRecord) -> OrderRecord:
        """Store a changed order (from a handler) and tell the listeners."""
        self.registry.store(record)
        for listener in self._listeners:
            listener.order_changed(record)
        return record

    def on_account(self, snapshot: AccountSnapshot) -> None:
        """Tell listeners an account changed."""
        for listener in self._listeners:
            listener.account_changed(snapshot)

    # ---- valuation -----------------------------------------------------------------------
    def position_figures(self, position: Position) -> PositionFigures | None:
        """A position valued at the current marks; None for unlisted instruments."""
        instrument = self.market.instrument(position.key.symbol)
        if instrument is None:
            return None
        quote = self.market.quote(instrument)
        figures = PositionFigures(
            instrument=instrument,
            size=position.amount,
            average_price=position.average_price,
            mark_price=quote.mark_price,
            index_price=self.market.index(instrument.underlying).price,
            delta=0.0,
        )
        if instrument.kind is not Kind.OPTION:
            delta = figures.size_currency
        elif position.venue_delta is not None:
            delta = position.venue_delta
        else:
            delta = position.amount * self.market.option_delta(instrument, quote, self.now_ms())
        return replace(figures, delta=round(delta, 9))

    def account_figures(self, snapshot: AccountSnapshot) -> list[AccountFigures]:
        """One `AccountFigures` per currency the venue lists or the account holds."""
        positions = [f for p in snapshot.positions if (f := self.position_figures(p)) is not None]
        margins = {m.currency: m for m in snapshot.margin}
        codes = set(self.currencies()) | set(snapshot.collateral) | set(margins)
        return [
            self._currency_figures(code, snapshot, positions, margins.get(code))
            for code in sorted(codes)
        ]

    def _currency_figures(
        self,
        currency: str,
        snapshot: AccountSnapshot,
        positions: Iterable[PositionFigures],
        margin: MarginState | None,
    ) -> AccountFigures:
        mine = [p for p in positions if settlement_currency_of(p.instrument) == currency]
        options = [p for p in mine if p.instrument.kind is Kind.OPTION]
        futures = [p for p in mine if p.instrument.kind in (Kind.PERPETUAL, Kind.FUTURE)]
        balance = snapshot.collateral.get(currency, 0.0)
        futures_pl = sum((p.floating_profit_loss for p in futures), 0.0)
        options_value = sum((p.size * p.mark_price for p in options), 0.0)
        gamma = vega = theta = 0.0
        now = self.now_ms()
        for p in options:
            greeks = self.market.greeks(p.instrument, self.market.quote(p.instrument), now)
            if greeks is not None:
                gamma += p.size * greeks.gamma
                vega += p.size * greeks.vega
                theta += p.size * greeks.theta
        equity = margin.equity if margin else balance + futures_pl + options_value
        underlyings = {p.instrument.underlying for p in mine}
        return AccountFigures(
            currency=currency,
            balance=balance,
            equity=equity,
            initial_margin=margin.initial_margin if margin else 0.0,
            maintenance_margin=margin.maintenance_margin if margin else 0.0,
            futures_delta=round(sum((p.delta for p in futures), 0.0), 9),
            options_delta=round(sum((p.delta for p in options), 0.0), 9),
            options_gamma=round(gamma, 9),
            options_vega=round(vega, 9),
            options_theta=round(theta, 9),
            options_value=options_value,
            futures_pl=futures_pl,
            options_pl=sum((p.floating_profit_loss for p in options), 0.0),
            index_name=_index_name(underlyings, currency),
        )


def _settled_long_ago(record: OrderRecord, active_ms: int | None, now_ms: int) -> bool:
    """An ended order whose fills have long been seen: its activation time is not needed."""
    return not record.is_open and active_ms is not None and now_ms - active_ms > 60_000


def _index_name(underlyings: set[str], currency: str) -> str:
    """The index a currency's DeltaTotal refers to: ``btc_usd`` (BTC), ``btc_usdc`` (USDC)."""
    if len(underlyings) != 1:
        return ""
    underlying = next(iter(underlyings))
    quote = "usd" if currency == underlying else currency.lower()
    return f"{underlying.lower()}_{quote}"
