"""Start-up gates, run in order before the first hedge: instruments, account reconciliation,
market data. A restart goes through the same gates, so a `kill -9` at any moment is followed by
reconciling the journal with the venue before anything trades.

Owns `load_instruments`, `reconcile_accounts`, `adopt_unfinished_orders` and `await_market_data`.
It must not trade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import structlog

from hedgebot.clock import Clock
from hedgebot.core.lifecycle import OrderState, TrackedOrder
from hedgebot.daemon.executor import Executor
from hedgebot.daemon.journal import Journal
from hedgebot.daemon.state import BookState
from hedgebot.model.errors import ConfigError, VenueError
from hedgebot.model.instruments import Instrument, InstrumentKey
from hedgebot.model.orders import OrderRequest, Side
from hedgebot.venues.ports import Broker, MarketFeed

log = structlog.get_logger("hedgebot.daemon.startup")


async def load_instruments(
    feeds: Sequence[MarketFeed], wanted: Iterable[InstrumentKey]
) -> dict[InstrumentKey, Instrument]:
    """Every instrument of every feed; a configured one that no venue lists is a config error."""
    known: dict[InstrumentKey, Instrument] = {}
    for feed in feeds:
        for instrument in await feed.instruments():
            known[instrument.key] = instrument
    missing = sorted(str(k) for k in wanted if k not in known)
    if missing:
        raise ConfigError(f"instruments not listed by their venue: {', '.join(missing)}")
    return known


async def reconcile_accounts(brokers: Mapping[str, Broker], state: BookState) -> None:
    """Fetch every account's positions and margin now (REST), into the state."""
    for name, broker in brokers.items():
        snapshot = await broker.snapshot()
        state.on_account(snapshot)
        log.info(
            "account.reconciled",
            account=name,
            positions=len(snapshot.positions),
            margin=[m.currency for m in snapshot.margin],
        )


async def adopt_unfinished_orders(
    *,
    journal: Journal,
    executor: Executor,
    brokers: Mapping[str, Broker],
    state: BookState,
    clock: Clock,
) -> int:
    """Orders the journal left unfinished are tracked again (UNKNOWN, looked up by client id);
    fills since the newest journaled one are fetched and applied once; and orders whose
    journaled filled amount exceeds their journaled fills get their trades fetched by order
    (clock-independent: what a killed run or a dropped stream left out)."""
    adopted = 0
    for row in journal.unfinished_orders():
        request = OrderRequest(
            client_id=row.client_id,
            account=row.account,
            key=InstrumentKey(row.venue, row.symbol),
            side=Side(row.side),
            amount=row.amount,
            limit_price=row.limit_price,
            reduce_only=row.reduce_only,
        )
        now = clock.now_ms()
        order = TrackedOrder(
            request=request,
            state=OrderState.UNKNOWN,
            created_ms=row.created_ms,
            updated_ms=now,
            filled_amount=min(row.filled, row.amount),
        )
        executor.adopt(order, row.underlying)
        adopted += 1
        log.warning("order.adopted_from_journal", client_id=row.client_id, state=row.state)
    for name, broker in brokers.items():
        since = journal.last_fill_ms(broker.venue)
        try:
            fills = await broker.fills_since(since if since is not None else 0)
        except VenueError as exc:
            log.warning("fills.reconcile_failed", account=name, error=str(exc))
            continue
        for fill in fills:
            state.on_fill(fill)
    for client_id, account, venue, symbol in journal.orders_missing_fills():
        owner = brokers.get(account)
        if owner is None:
            continue
        try:
            missing = await owner.fills_of(client_id, InstrumentKey(venue, symbol))
        except VenueError as exc:
            log.warning("fills.catch_up_failed", client_id=client_id, error=str(exc))
            continue
        for fill in missing:
            state.on_fill(fill)
    return adopted


async def await_market_data(
    state: BookState,
    keys: Iterable[InstrumentKey],
    underlyings: Iterable[str],
    clock: Clock,
    *,
    timeout_s: float,
) -> list[str]:
    """Wait (on the clock) until every key has a quote and every underlying an index price.

    Returns what is still missing after `timeout_s` (the loop then holds those underlyings).
    """
    keys, underlyings = list(keys), list(underlyings)
    waited = 0.0
    step = 0.05
    while True:
        missing = [str(k) for k in keys if k not in state.quotes]
        missing += [f"{u} index" for u in underlyings if u not in state.index]
        if not missing or waited >= timeout_s:
            return missing
        await clock.sleep(step)
        waited += step
