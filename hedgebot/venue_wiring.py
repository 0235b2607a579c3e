"""The venue builder (part of the composition root, see `hedgebot.app`).

Owns how the configured venues become one finished `VenueGraph` (clock, market feeds, brokers,
closer) for each `VenueMode`, side by side:

* ``SIMULATED`` (``driver = "simulated"``): the built-in `SimulatedExchange` on a
  `SimulatedClock`, both feed and broker (its matching engine is the paper engine);
* ``PAPER`` (``driver = "ccxt"``): a credential-less ccxt feed per venue whose quotes are teed
  into a `PaperExchange` (the simulator's matching engine and ledger); its brokers fill locally,
  so no private endpoint is ever called and no key is loaded;
* ``LIVE``: the same feed, and a `CcxtBroker` per account with the venue's credentials (order
  entry on its own ccxt instance), opened behind the trade-permission gate;
* ``READ_ONLY`` (`hedgebot risk` of a live config): the same feed, and the live accounts'
  `CcxtBroker` used for REST reads only (no trade permission needed, nothing ever submitted).

`open_venues` does everything that needs the network (market catalogs, broker sessions) before
it returns; the graph it returns is frozen (read-only mappings) and nothing changes it later.
The only seam is `VenueHooks`, applied once to each feed and broker while the graph is built
(tests and benchmarks put fault injectors or timers there). Which mode applies is decided by
`hedgebot.app` alone; this module only builds the mode it is given.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import structlog

from hedgebot.clock import Clock, SimulatedClock, WallClock
from hedgebot.config import Settings
from hedgebot.model.errors import AuthenticationFailed, ConfigError
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.venues.ports import Broker, MarketFeed, MarketSink

if TYPE_CHECKING:
    from hedgebot.venues.ccxt import CcxtMarketFeed
    from hedgebot.venues.sim.accounts import AccountSeed
    from hedgebot.venues.sim.settings import UnderlyingSettings

log = structlog.get_logger("hedgebot.venues")

Closer = Callable[[], Awaitable[None]]


class VenueMode(enum.Enum):
    """Which venues back the graph (chosen by `hedgebot.app`)."""

    SIMULATED = "simulated"
    PAPER = "paper"
    LIVE = "live"
    READ_ONLY = "read-only"


def _same_feed(feed: MarketFeed) -> MarketFeed:
    return feed


def _same_broker(broker: Broker) -> Broker:
    return broker


@dataclass(frozen=True, slots=True)
class VenueHooks:
    """The builder's one seam: each feed and each broker passes through these once, while the
    graph is built (a test's fault injector, a benchmark's timer). The default changes nothing."""

    feed: Callable[[MarketFeed], MarketFeed] = _same_feed
    broker: Callable[[Broker], Broker] = _same_broker


async def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class VenueGraph:
    """Feeds and brokers of every configured venue and account, the clock they run on and the
    closer of their sessions: finished and frozen (the mappings are read-only copies)."""

    mode: VenueMode
    clock: Clock
    feeds: Mapping[str, MarketFeed]
    brokers: Mapping[str, Broker]
    close: Closer = field(default=_nothing)

    def __post_init__(self) -> None:
        object.__setattr__(self, "feeds", MappingProxyType(dict(self.feeds)))
        object.__setattr__(self, "brokers", MappingProxyType(dict(self.brokers)))


def venue_clock(settings: Settings, mode: VenueMode) -> Clock:
    """The clock of a mode: simulated time for the simulator, the wall clock otherwise."""
    if mode is VenueMode.SIMULATED:
        sim = settings.simulator
        return SimulatedClock(int(sim.start.timestamp() * 1000), speed=sim.speed or None)
    return WallClock()


async def open_venues(
    settings: Settings,
    *,
    mode: VenueMode,
    clock: Clock | None = None,
    run_number: int = 0,
    client_prefix: str = "hbrisk",
    hooks: VenueHooks = VenueHooks(),
) -> VenueGraph:
    """The finished venue graph of `mode` (see the module docstring).

    `clock` defaults to `venue_clock(settings, mode)`; `run_number` makes simulated and paper
    order ids unique across restarts; `client_prefix` labels live orders. If opening fails,
    whatever was opened is closed before the error is raised."""
    clock = clock if clock is not None else venue_clock(settings, mode)
    if mode is VenueMode.SIMULATED:
        if not isinstance(clock, SimulatedClock):
            raise TypeError("simulated venues run on a SimulatedClock")
        return _simulated_venues(settings, clock=clock, run_number=run_number, hooks=hooks)
    closers: list[Closer] = []

    async def close() -> None:
        for closer in closers:
            try:
                await closer()
            except Exception as exc:
                log.warning("venue.close_failed", error=str(exc))

    try:
        real = _ccxt_feeds(settings, clock, closers)
        if mode is VenueMode.PAPER:
            feeds, brokers = await _paper(settings, real, clock, run_number=run_number)
        elif mode is VenueMode.LIVE:
            feeds = dict(real)
            brokers = await _live(settings, real, clock, client_prefix, closers)
        else:
            feeds = dict(real)
            brokers = await _account_readers(settings, clock, closers)
        return VenueGraph(
            mode=mode,
            clock=clock,
            feeds={name: hooks.feed(feed) for name, feed in feeds.items()},
            brokers={name: hooks.broker(broker) for name, broker in brokers.items()},
            close=close,
        )
    except BaseException:
        await close()
        raise


def symbols_by_venue(settings: Settings) -> dict[str, list[str]]:
    """Every symbol the configuration names (positions and hedges), per venue."""
    symbols: dict[str, list[str]] = {name: [] for name in settings.venues}
    for account in settings.accounts.values():
        symbols[account.venue] += [p.symbol for p in account.positions]
    for hedge in settings.hedges.values():
        symbols[settings.accounts[hedge.account].venue].append(hedge.instrument)
    return {venue: sorted(set(names)) for venue, names in symbols.items()}


def sim_underlyings(settings: Settings) -> tuple[UnderlyingSettings, ...]:
    """The simulator's underlyings, with the configuration's overrides applied."""
    from hedgebot.venues.sim.settings import DEFAULT_UNDERLYINGS

    result = []
    for underlying in DEFAULT_UNDERLYINGS:
        override = settings.simulator.underlyings.get(underlying.name)
        if override is None:
            result.append(underlying)
            continue
        changes = {k: v for k, v in override.model_dump().items() if v is not None}
        result.append(dataclasses.replace(underlying, **changes))
    return tuple(result)


def _seeds(settings: Settings, venue: str) -> dict[str, AccountSeed]:
    """The configured starting book of every account on `venue`."""
    from hedgebot.venues.sim.accounts import AccountSeed

    return {
        name: AccountSeed(
            collateral=dict(account.collateral),
            positions=[(p.symbol, p.amount, p.price) for p in account.positions],
        )
        for name, account in settings.accounts.items()
        if account.venue == venue
    }


def _simulated_venues(
    settings: Settings, *, clock: SimulatedClock, run_number: int, hooks: VenueHooks
) -> VenueGraph:
    """The built-in exchange. A restart starts a new simulated venue history: its ids carry
    the run number so they never collide with ids journaled by earlier runs."""
    from hedgebot.venues.sim.exchange import SimulatedExchange
    from hedgebot.venues.sim.settings import MarketSettings

    sim = settings.simulator
    market = MarketSettings(
        underlyings=sim_underlyings(settings),
        seed=sim.seed,
        start_ms=int(sim.start.timestamp() * 1000),
        latency_ms=sim.latency_ms,
    )
    symbols = symbols_by_venue(settings)
    feeds: dict[str, MarketFeed] = {}
    brokers: dict[str, Broker] = {}
    for venue in settings.venues:
        seeds = _seeds(settings, venue)
        try:
            exchange = SimulatedExchange(
                venue=venue,
                clock=clock,
                market=market,
                accounts=seeds,
                symbols=symbols[venue],
                id_prefix=f"r{run_number}-",
            )
        except ValueError as exc:  # a symbol the simulated exchange does not list
            raise ConfigError(f"venues.{venue} (simulated): {exc}") from None
        feeds[venue] = hooks.feed(exchange)
        for name in seeds:
            brokers[name] = hooks.broker(exchange.broker(name))
    return VenueGraph(mode=VenueMode.SIMULATED, clock=clock, feeds=feeds, brokers=brokers)


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


def _ccxt_feeds(
    settings: Settings, clock: Clock, closers: list[Closer]
) -> dict[str, CcxtMarketFeed]:
    """A credential-less ccxt feed per venue (paper, live and read-only alike)."""
    from hedgebot.venues.ccxt import CcxtMarketFeed

    feeds: dict[str, CcxtMarketFeed] = {}
    for name, venue in settings.venues.items():
        feeds[name] = CcxtMarketFeed.from_settings(name, venue, clock=clock)
        closers.append(feeds[name].close)
    return feeds


async def _paper(
    settings: Settings, real: Mapping[str, CcxtMarketFeed], clock: Clock, *, run_number: int
) -> tuple[dict[str, MarketFeed], dict[str, Broker]]:
    """Paper feeds and brokers: the real venue's instruments and quotes, local fills."""
    from hedgebot.venues.sim.paper import PaperExchange

    feeds: dict[str, MarketFeed] = {}
    brokers: dict[str, Broker] = {}
    for venue in settings.venues:
        instruments = list(await real[venue].instruments())
        seeds = _seeds(settings, venue)
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
    return feeds, brokers


async def _live(
    settings: Settings,
    real: Mapping[str, CcxtMarketFeed],
    clock: Clock,
    client_prefix: str,
    closers: list[Closer],
) -> dict[str, Broker]:
    """Live brokers, each behind the trade-permission gate."""
    from hedgebot.venues.ccxt import CcxtBroker

    hedged = {
        account: [h.instrument for h in settings.hedges.values() if h.account == account]
        for account in settings.accounts
    }
    brokers: dict[str, Broker] = {}
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
                f"accounts.{account}: the key cannot trade on {spec.venue} ({permissions.detail})"
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
    return brokers


async def _account_readers(
    settings: Settings, clock: Clock, closers: list[Closer]
) -> dict[str, Broker]:
    """Credentialed readers of every configured live account, for `hedgebot risk`.

    The same `CcxtBroker` as live trading, opened without the trade-permission gate (a read-only
    key is enough) and used only for `snapshot` (REST reads): nothing is ever submitted, no
    stream is started, no client-id prefix is registered with the venue.
    """
    from hedgebot.venues.ccxt import CcxtBroker

    brokers: dict[str, Broker] = {}
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
    return brokers


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
