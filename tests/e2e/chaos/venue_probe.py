"""What the two local exchanges of a per-venue scenario say: the evidence for the invariants.

Owns `VenueProbe`, the counterpart of `probes.ExchangeProbe` when the hedge is on another venue:

* figures: per hedged currency, Deribit's own options delta (``options_delta`` of its account
  figures; the cross-venue configs do not count Deribit's coin collateral) plus the hedge
  venue's position in coin from its ledger: 0 is delta neutral;
* creates: every placement the hedge venue's request log holds (answered, lost, dropped,
  rate-limited, rejected), and any order entry on Deribit (there should be none);
* orders and trades: the hedge venue's ledger, one order per client id;
* `watch_creates`: a hook in the hedge venue's ledger that records, the moment each create is
  executed, what the account still needed (the last sampled options delta plus the position
  before the order: ``residual_at_create`` of the invariants), and tells a kill trap.

It must not change what either exchange does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hedgebot_localvenues.binance_usdm.ledger import Account, Ledger, Order
from tests.e2e.chaos.probes import (
    Create,
    ExchangeProbe,
    Figures,
    Sample,
    VenueOrder,
    VenueTrade,
)
from tests.e2e.chaos.rig import ACCOUNT, LIMITS
from tests.support.cross_venue import CrossVenue

HEDGE_ACCOUNT = "main"
"""The hedge venue's account the cross-venue configs trade (key ``sim-main``)."""

OnCreate = Callable[[Order], None]


def _client_id(params: dict[str, Any] | Any) -> str:
    return str(
        params.get("newClientOrderId") or params.get("orderLinkId") or params.get("clOrdId") or ""
    )


@dataclass(slots=True)
class VenueProbe:
    """Reads both in-process exchanges; keeps the samples it takes."""

    rig: CrossVenue
    samples: list[Sample] = field(default_factory=list)
    residual_at_create: dict[int, float] = field(default_factory=dict)
    create_hooks: list[OnCreate] = field(default_factory=list)
    _options_delta: dict[str, float] = field(default_factory=dict)
    _started: float = field(default_factory=time.monotonic)

    @property
    def ledger(self) -> Ledger:
        """The hedge venue's ledger."""
        return self.rig.hedge.ledger

    @property
    def account(self) -> Account:
        """The hedge venue's account."""
        return self.ledger.accounts[HEDGE_ACCOUNT]

    def hedge_coin(self, currency: str) -> float:
        """The hedge venue's position in `currency`, in coin (every leg of its contracts)."""
        return sum(
            leg.amount
            for (symbol, _), leg in self.account.positions.items()
            if self.ledger.contracts[symbol].base == currency
        )

    async def figures(self) -> dict[str, Figures]:
        """Per hedged currency: options delta + hedge position (0 = neutral), the hedge's size."""
        state = self.rig.deribit.state
        snapshot = await state.broker(ACCOUNT).snapshot()
        for figures in state.account_figures(snapshot):
            if figures.currency in LIMITS:
                self._options_delta[figures.currency] = figures.options_delta
        result = {}
        for code, options in self._options_delta.items():
            hedge = self.hedge_coin(code)
            result[code] = Figures(residual=options + hedge, perp=hedge, perp_size=hedge)
        return result

    async def book_changes(self) -> list[str]:
        """Where Deribit's options positions differ from the seeded book (a liquidation would
        leave nothing to hedge: the scenario would prove nothing)."""
        seeded = {p.symbol: p.amount for p in self.rig.book.accounts[ACCOUNT].positions}
        snapshot = await self.rig.deribit.state.broker(ACCOUNT).snapshot()
        held = {p.key.symbol: p.amount for p in snapshot.positions if p.amount}
        return [
            f"{symbol}: seeded {seeded.get(symbol, 0.0)}, held {held.get(symbol, 0.0)}"
            for symbol in sorted(set(seeded) | set(held))
            if abs(seeded.get(symbol, 0.0) - held.get(symbol, 0.0)) > 1e-9
        ]

    async def sample(self) -> Sample:
        """Take and keep one sample."""
        taken = Sample(t=time.monotonic() - self._started, figures=await self.figures())
        self.samples.append(taken)
        return taken

    def watch_creates(self) -> None:
        """Hook the hedge venue's ledger: note the need at each create, tell the create hooks."""
        ledger = self.ledger
        place = ledger.place

        def placing(name: str, **order: Any) -> Order:
            symbol = str(order["symbol"])
            currency = ledger.contracts[symbol].base if symbol in ledger.contracts else ""
            before = self._options_delta.get(currency, 0.0) + self.hedge_coin(currency)
            placed = place(name, **order)
            self.residual_at_create[placed.order_id] = before
            for hook in list(self.create_hooks):
                hook(placed)
            return placed

        setattr(ledger, "place", placing)  # noqa: B010 (an instance attribute over the method)

    def creates(self) -> list[Create]:
        """Every placement either exchange received, oldest first (Deribit's should be none)."""
        hedge = [
            Create(seq=i, label=_client_id(r.params), method=r.path, outcome=r.outcome)
            for i, r in enumerate(self.rig.hedge.requests.order_creates())
        ]
        return hedge + ExchangeProbe(self.rig.deribit).creates()

    def hedge_creates(self) -> list[Create]:
        """The hedge venue's placements only."""
        return [c for c in self.creates() if not c.method.startswith("private/")]

    def orders(self) -> list[VenueOrder]:
        """Our orders on the hedge venue, oldest first."""
        result = []
        for o in sorted(self.account.orders.values(), key=lambda o: o.order_id):
            contract = self.ledger.contracts[o.symbol]
            sign = 1.0 if o.side == "BUY" else -1.0
            result.append(
                VenueOrder(
                    order_id=str(o.order_id),
                    label=o.client_id,
                    symbol=o.symbol,
                    created_ms=o.time_ms,
                    updated_ms=o.update_ms,
                    is_open=o.open,
                    amount=o.quantity,
                    filled=o.executed,
                    currency=contract.base,
                    coin=sign * o.quantity,
                    lot_coin=float(contract.step_size),
                    residual_at_create=self.residual_at_create.get(o.order_id),
                )
            )
        return result

    def trades(self) -> list[VenueTrade]:
        """Our trades on the hedge venue, oldest first, each with its order's client id."""
        return [
            VenueTrade(trade_id=str(t.trade_id), label=t.order.client_id, amount=t.qty)
            for t in self.account.trades
        ]
