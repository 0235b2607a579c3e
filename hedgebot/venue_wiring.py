"""Composition of real venues (part of the composition root, see `hedgebot.app`).

Owns how ``driver = "ccxt"`` venues become feeds and brokers:

* paper mode: a credential-less ccxt feed per venue whose quotes are teed into a
  `PaperExchange` (the simulator's matching engine and ledger); its brokers fill locally, so no
  private endpoint is ever called and no key is loaded;
* live mode: the same feed, and a `CcxtBroker` per account with the venue's credentials (order
  entry on its own ccxt instance).

Brokers need the venue's market catalog, which is loaded over the network, so they are opened in
`Venues.open`, the first start-up gate.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from hedgebot.clock import Clock, WallClock
from hedgebot.config import Settings
from hedgebot.model.errors import AuthenticationFailed, ConfigError
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.venues.ports import Broker, MarketFeed, MarketSink

if TYPE_CHECKING:
    from hedgebot.venues.sim.accounts import AccountSeed

log = structlog.get_logger("hedgebot.venues")


async def _nothing() -> None:
    return None


@dataclass
class Venues:
    """Feeds and brokers of every configured venue and account, and the clock they run on."""

    clock: Clock
    feeds: dict[str, MarketFeed]
    brokers: dict[str, Broker]
    open: Callable[[], Awaitable[None]] = _nothing
    """Finish set-up that needs the network (market catalogs, broker sessions)."""
    close: Callable[[], Awaitable[None]] = _nothing


class TeeSink:
    """A market sink that feeds the daemon's state and a paper exchange alike."""

    def __init__(self, first: MarketSink, second: MarketSink) -> None:
        self._sinks = (first, second)

    def on_quote(self, quote: Quote) -> None:
        """Forward to both."""
        for sink in self._sinks:
            sink.on_quote(quote)

    def on_index(self, index: IndexPrice) -> None:
        """Forward to both."""
        for sink in self._sinks:
            sink.on_index(index)

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        """Forward to both."""
        for sink in self._sinks:
            sink.on_feed_status(venue, connected=connected, reason=reason)


class PaperFeed:
    """A real feed whose quotes also drive the paper exchange's matching."""

    def __init__(self, feed: MarketFeed, paper: MarketSink) -> None:
        self.venue = feed.venue
        self._feed = feed
        self._paper = paper

    async def instruments(self) -> Sequence:  # type: ignore[type-arg]
        """The real venue's instruments."""
        return await self._feed.instruments()

    async def stream(self, keys: Sequence[InstrumentKey], sink: MarketSink) -> None:
        """Stream into the daemon's state and the paper exchange."""
        await self._feed.stream(keys, TeeSink(sink, self._paper))


def ccxt_venues(settings: Settings, *, live: bool, client_prefix: str, run_number: int) -> Venues:
    """Feeds and brokers for ccxt venues, paper or live."""
    from hedgebot.venues.ccxt import CcxtBroker, CcxtMarketFeed

    clock = WallClock()
    feeds: dict[str, MarketFeed] = {}
    real: dict[str, CcxtMarketFeed] = {}
    brokers: dict[str, Broker] = {}
    closers: list[Callable[[], Awaitable[None]]] = []
    for name, venue in settings.venues.items():
        real[name] = CcxtMarketFeed.from_settings(name, venue, clock=clock)
        feeds[name] = real[name]
        closers.append(real[name].close)
    hedged = {
        account: [h.instrument for h in settings.hedges.values() if h.account == account]
        for account in settings.accounts
    }

    async def open_live() -> None:
        for account, spec in settings.accounts.items():
            catalog = await real[spec.venue].catalog()
            broker = await CcxtBroker.open(
                account=account,
                venue=spec.venue,
                settings=settings.venues[spec.venue],
                clock=clock,
                client_id_prefix=client_prefix,
                symbols=hedged[account],
                catalog=catalog,
            )
            closers.append(broker.close)
            permissions = await broker.permissions()
            if not permissions.can_trade:
                raise AuthenticationFailed(
                    f"accounts.{account}: the key cannot trade on {spec.venue} "
                    f"({permissions.detail})"
                )
            if permissions.can_withdraw:
                log.warning(
                    "live.key_can_withdraw",
                    account=account,
                    venue=spec.venue,
                    detail=permissions.detail,
                    advice="use a key without withdrawal rights for hedgebot",
                )
            elif not permissions.verified:
                log.warning("live.key_unverified", account=account, detail=permissions.detail)
            brokers[account] = broker
        plan = {
            account: f"{spec.venue}: hedges " + (", ".join(hedged[account]) or "nothing")
            for account, spec in settings.accounts.items()
        }
        log.warning("live.plan", mode="LIVE", accounts=plan)

    async def open_paper() -> None:
        from hedgebot.venues.sim.accounts import AccountSeed
        from hedgebot.venues.sim.paper import PaperExchange

        for venue in settings.venues:
            instruments = list(await real[venue].instruments())
            seeds = {
                account: AccountSeed(
                    collateral=dict(spec.collateral),
                    positions=[(p.symbol, p.amount, p.price) for p in spec.positions],
                )
                for account, spec in settings.accounts.items()
                if spec.venue == venue
            }
            for account in seeds:
                if settings.accounts[account].snapshot_from_venue:
                    seeds[account] = await _venue_seed(settings, account, clock)
            paper = PaperExchange(
                venue=venue,
                clock=clock,
                instruments=instruments,
                accounts=seeds,
                id_prefix=f"p{run_number}-",
            )
            feeds[venue] = PaperFeed(real[venue], paper)
            for account in seeds:
                brokers[account] = paper.broker(account)
        log.info("paper.ready", venues=sorted(settings.venues), note="no private endpoint is used")

    async def close() -> None:
        for closer in closers:
            try:
                await closer()
            except Exception as exc:
                log.warning("venue.close_failed", error=str(exc))

    return Venues(
        clock=clock,
        feeds=feeds,
        brokers=brokers,
        open=open_live if live else open_paper,
        close=close,
    )


async def open_account_readers(
    settings: Settings, clock: Clock
) -> tuple[dict[str, Broker], Callable[[], Awaitable[None]]]:
    """Credentialed readers of every configured live account, for `hedgebot risk`.

    The same `CcxtBroker` as live trading, opened without the trade-permission gate (a read-only
    key is enough) and used only for `snapshot` (REST reads): nothing is ever submitted, no
    stream is started, no client-id prefix is registered with the venue. Returns the brokers and
    a closer.
    """
    from hedgebot.venues.ccxt import CcxtBroker

    brokers: dict[str, Broker] = {}
    closers: list[Callable[[], Awaitable[None]]] = []

    async def close() -> None:
        for closer in closers:
            try:
                await closer()
            except Exception as exc:
                log.warning("venue.close_failed", error=str(exc))

    try:
        for account, spec in settings.accounts.items():
            broker = await CcxtBroker.open(
                account=account,
                venue=spec.venue,
                settings=settings.venues[spec.venue],
                clock=clock,
                client_id_prefix="hbrisk",
            )
            closers.append(broker.close)
            brokers[account] = broker
    except BaseException:
        await close()
        raise
    return brokers, close


async def _venue_seed(settings: Settings, account: str, clock: Clock) -> AccountSeed:
    """Paper `snapshot_from_venue`: the real account's positions and balances, read once over
    read-only REST calls (a read-only key is enough), as the paper account's starting book."""
    from hedgebot.venues.ccxt import CcxtBroker
    from hedgebot.venues.sim.accounts import AccountSeed

    spec = settings.accounts[account]
    venue = settings.venues[spec.venue]
    if venue.api_key is None and venue.api_key_file is None:
        raise ConfigError(
            f"accounts.{account}.snapshot_from_venue: needs the venue's (read-only) API key"
        )
    broker = await CcxtBroker.open(
        account=account,
        venue=spec.venue,
        settings=venue,
        clock=clock,
        client_id_prefix="hbpaper",
    )
    try:
        snapshot = await broker.snapshot()
    finally:
        await broker.close()
    log.info("paper.seeded_from_venue", account=account, positions=len(snapshot.positions))
    return AccountSeed(collateral=dict(snapshot.collateral), positions=list(snapshot.positions))
