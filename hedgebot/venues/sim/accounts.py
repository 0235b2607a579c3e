"""Balances and positions of the accounts of one simulated or paper venue.

Owns `AccountSeed` (an account's starting collateral and positions) and `SimAccounts`: the
collateral of each account by currency, its holdings by instrument, how trades, funding and
expiry change them (through `hedgebot.venues.sim.accounting`), and what its margin is now or would
be after some trades (through `hedgebot.venues.sim.margin`); `liquidate` closes a currency's
positions at their marks. Holdings without a mark are left out of
equity and margin. It must not know about orders or books.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from hedgebot.core.margin_model import MarginRates
from hedgebot.model.account import AccountSnapshot, MarginState, Position
from hedgebot.model.instruments import Instrument, InstrumentKey
from hedgebot.model.market import Quote
from hedgebot.venues.sim.accounting import Holding, trade
from hedgebot.venues.sim.catalog import settlement_currency
from hedgebot.venues.sim.margin import PricedHolding, margin_state

InstrumentResolver = Callable[[InstrumentKey], Instrument]
"""Instrument of a key; raises ValueError for keys the venue does not list."""
MarkSource = Callable[[Instrument], Quote | None]
"""Latest quote of an instrument, None where there is none yet."""
SeedPosition = Position | tuple[str, float, float]
PlannedTrade = tuple[Instrument, float, float, float]
"""(instrument, signed amount, price, fee) of a trade whose margin effect is projected."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountSeed:
    """Starting state of an account: collateral by currency, positions as `Position`s or
    (symbol, signed amount, average price); an average price of 0 means "the mark at start"."""

    collateral: Mapping[str, float] = field(default_factory=dict)
    positions: Sequence[SeedPosition] = ()


class SimAccounts:
    """Collateral and holdings of every account, valued at the marks of a `MarkSource`."""

    def __init__(
        self,
        *,
        venue: str,
        instruments: InstrumentResolver,
        marks: MarkSource,
        margin: MarginRates,
        seeds: Mapping[str, AccountSeed],
    ) -> None:
        self.venue = venue
        self._resolve = instruments
        self._marks = marks
        self._rules = margin
        self._known: dict[InstrumentKey, Instrument] = {}
        self._cash: dict[str, dict[str, float]] = {}
        self._holdings: dict[str, dict[InstrumentKey, Holding]] = {}
        for account, seed in seeds.items():
            self._seed(account, seed)

    @property
    def names(self) -> list[str]:
        """The accounts kept."""
        return list(self._cash)

    def instrument(self, key: InstrumentKey) -> Instrument:
        """The instrument of a key (resolved once); ValueError if the venue does not list it."""
        instrument = self._known.get(key)
        if instrument is None:
            instrument = self._known[key] = self._resolve(key)
        return instrument

    def mark(self, instrument: Instrument) -> Quote | None:
        """The latest quote of an instrument."""
        return self._marks(instrument)

    def holding(self, account: str, key: InstrumentKey) -> Holding:
        """An account's position in one instrument (zero if none)."""
        return self._holdings[account].get(key, Holding())

    def holders(self, key: InstrumentKey) -> list[str]:
        """Accounts with a non-zero position in an instrument."""
        return [a for a, h in self._holdings.items() if h.get(key, Holding()).amount != 0]

    def held_instruments(self) -> list[Instrument]:
        """Instruments some account holds a non-zero position in."""
        keys = {k for h in self._holdings.values() for k, v in h.items() if v.amount != 0}
        return [self._known[k] for k in sorted(keys)]

    def apply_trade(
        self, account: str, instrument: Instrument, signed_amount: float, price: float, fee: float
    ) -> None:
        """Book one execution: the position changes and its cash flow minus the fee is credited."""
        holdings = self._holdings[account]
        holding, flow = trade(
            instrument, holdings.get(instrument.key, Holding()), signed_amount, price
        )
        holdings[instrument.key] = holding
        self.credit(account, settlement_currency(instrument), flow - fee)

    def credit(self, account: str, currency: str, amount: float) -> None:
        """Add `amount` (negative: take it) to an account's collateral in `currency`."""
        balances = self._cash[account]
        balances[currency] = balances.get(currency, 0.0) + amount

    def liquidate(self, account: str, currency: str) -> list[Instrument]:
        """Close every marked position settled in `currency` at its mark (a liquidation)."""
        closed = []
        for key, holding in list(self._holdings[account].items()):
            instrument = self.instrument(key)
            quote = self._marks(instrument)
            if holding.amount == 0 or quote is None or settlement_currency(instrument) != currency:
                continue
            self.apply_trade(account, instrument, -holding.amount, quote.mark_price, 0.0)
            self._holdings[account].pop(key, None)
            closed.append(instrument)
        return closed

    def close(self, account: str, key: InstrumentKey) -> Holding:
        """Remove a position (it expired) and return what it was."""
        return self._holdings[account].pop(key, Holding())

    def snapshot(self, account: str, now_ms: int) -> AccountSnapshot:
        """Positions, collateral and margin of one account now."""
        positions = tuple(
            Position(account=account, key=key, amount=h.amount, average_price=h.average_price)
            for key, h in sorted(self._holdings[account].items())
            if h.amount != 0
        )
        return AccountSnapshot(
            account=account,
            venue=self.venue,
            timestamp_ms=now_ms,
            positions=positions,
            collateral=dict(self._cash[account]),
            margin=self.margin(account),
        )

    def margin(self, account: str) -> tuple[MarginState, ...]:
        """Margin of each currency the account holds collateral or positions in."""
        currencies = set(self._cash[account])
        currencies.update(settlement_currency(self._known[k]) for k in self._holdings[account])
        return tuple(self.projected_margin(account, c, ()) for c in sorted(currencies))

    def projected_margin(
        self, account: str, currency: str, trades: Iterable[PlannedTrade]
    ) -> MarginState:
        """Margin of one currency of an account after `trades` (now, if there are none)."""
        holdings = dict(self._holdings[account])
        cash = self._cash[account].get(currency, 0.0)
        for instrument, signed_amount, price, fee in trades:
            if settlement_currency(instrument) != currency:
                continue
            holding, flow = trade(
                instrument, holdings.get(instrument.key, Holding()), signed_amount, price
            )
            holdings[instrument.key] = holding
            cash += flow - fee
        return margin_state(currency, cash, self._priced(holdings, currency), self._rules)

    def _priced(
        self, holdings: Mapping[InstrumentKey, Holding], currency: str
    ) -> Iterator[PricedHolding]:
        for key, holding in holdings.items():
            instrument = self.instrument(key)
            if holding.amount == 0 or settlement_currency(instrument) != currency:
                continue
            quote = self._marks(instrument)
            if quote is not None:
                yield instrument, holding, quote

    def _seed(self, account: str, seed: AccountSeed) -> None:
        self._cash[account] = {c: float(v) for c, v in seed.collateral.items()}
        holdings: dict[InstrumentKey, Holding] = {}
        for position in seed.positions:
            if isinstance(position, Position):
                symbol, amount = position.key.symbol, position.amount
                average = position.average_price
            else:
                symbol, amount, average = position
            instrument = self.instrument(InstrumentKey(self.venue, symbol))
            if average <= 0 and (quote := self._marks(instrument)) is not None:
                average = quote.mark_price
            holdings[instrument.key] = Holding(amount=float(amount), average_price=float(average))
        self._holdings[account] = holdings
