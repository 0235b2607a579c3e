"""Bad market and account data never trades and never crashes the daemon (issue 5).

The real daemon (composition root, engine, executor, journal) runs on the built-in simulated
exchange in simulated time. A test-side feed wrapper corrupts what the exchange publishes during
a window, and a broker wrapper counts every order the venue receives. To make the daemon *want*
to trade during the window, a legitimate shock (a new long BTC future, +5 BTC) appears in the
account just after the bad data starts and stays: on good data it is hedged within seconds
(`test_the_shock_is_hedged_at_once_on_good_data`). For each kind of bad data the daemon must
send no BTC order while the bad value is the newest, log it as a structured warning, journal an
alert-worthy event, keep turning, and hedge again once good data returns.

`hedgebot.daemon.market_sanity` (the filter the daemon needs in front of its state) is tested on its
own at the end.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import math
import sys
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from hedgebot.app import Runtime
from hedgebot.clock import Clock, SimulatedClock
from hedgebot.daemon.market_sanity import (
    SanityFilter,
    SanityLimits,
    index_problem,
    quote_problem,
)
from hedgebot.daemon.state import BookState
from hedgebot.model.account import AccountSnapshot, Position
from hedgebot.model.alerts import Alert
from hedgebot.model.errors import OrderRejected
from hedgebot.model.events import DaemonEvent, DaemonEventKind
from hedgebot.model.instruments import Instrument, InstrumentKey, Kind, OptionType, Settlement
from hedgebot.model.market import IndexPrice, Quote
from hedgebot.model.orders import Fill, OrderRequest, OrderUpdate
from hedgebot.model.view import TurnView
from hedgebot.operator.alerts import AlertDispatcher
from hedgebot.operator.logs import configure_logging
from hedgebot.operator.metrics import Metrics
from hedgebot.operator.surface import OperatorSurface
from hedgebot.venue_wiring import VenueHooks
from hedgebot.venues.ports import AccountSink, Broker, MarketFeed, MarketSink
from tests.support.daemon_harness import settings_for

BAD_FROM_S = 55.0
SHOCK_FROM_S = 60.0
GOOD_FROM_S = 120.0
END_S = 180.0
SETTLED_S = 2.0
"""The newest value is the bad one within a market step (1 s) and an order's latency."""

ROOT = Path(__file__).resolve().parents[2]
PERP = "BTC-PERPETUAL"
SHOCK = Position(account="main", key=InstrumentKey("sim", "BTC-26JUN26"), amount=300_000.0)
"""+300,000 USD face of the BTC future the book already holds: about +5 BTC of delta."""
UNKNOWN = Position(account="main", key=InstrumentKey("sim", "BTC-27MAR26-90000-C"), amount=-80.0)
"""A short option the daemon was never told about (opened on the venue by hand)."""
MISREAD = Position(
    account="main",
    key=InstrumentKey("sim", "BTC-26JUN26"),
    amount=50_000.0,
    size_coin=50_000.0,
    size_field="size_currency",
)
DIVERGENT = Position(
    account="main", key=InstrumentKey("sim", "BTC-26JUN26"), amount=50_000.0, venue_delta=5.0
)
"""A future the venue says carries 5 BTC of delta; 50,000 USD face is about 0.8 BTC to us."""
"""A future whose two size figures disagree: 50,000 USD face is about 0.8 BTC, but the venue's
second figure says 50,000 BTC (one of them is read in the wrong unit; core.size_check)."""


# --- what goes wrong, and when ------------------------------------------------------------------

BAD_DATA = DaemonEventKind.MARKET_BAD_DATA
BAD_DATA_CLEARED = DaemonEventKind.MARKET_BAD_DATA_CLEARED

QuoteEdit = Callable[[Quote], Quote]
IndexEdit = Callable[[IndexPrice], IndexPrice]


@dataclass(frozen=True)
class BadData:
    """One kind of bad input: how quotes, index prices or snapshots are corrupted."""

    quote: QuoteEdit | None = None
    index: IndexEdit | None = None
    positions: tuple[Position, ...] = ()
    logged_as: frozenset[str] = frozenset()
    """Structured warning events that name the problem (any one will do)."""
    events: frozenset[str] = frozenset({BAD_DATA})
    """Journal events an operator is alerted by (any one will do)."""


def _perp_only(edit: QuoteEdit) -> QuoteEdit:
    def apply(quote: Quote) -> Quote:
        return edit(quote) if quote.key.symbol == PERP else quote

    return apply


def _crossed(quote: Quote) -> Quote:
    return dataclasses.replace(quote, bid=quote.ask * 1.01)


def _gap_90(quote: Quote) -> Quote:
    return dataclasses.replace(
        quote,
        bid=quote.bid * 0.1,
        ask=quote.ask * 0.1,
        mark_price=quote.mark_price * 0.1,
        underlying_price=quote.underlying_price * 0.1,
    )


def _zero_mark(quote: Quote) -> Quote:
    return dataclasses.replace(quote, mark_price=0.0)


def _no_iv(quote: Quote) -> Quote:
    if quote.key.symbol == "BTC-27MAR26-60000-C":
        return dataclasses.replace(quote, mark_iv=None)
    return quote


def _index_times_3(index: IndexPrice) -> IndexPrice:
    if index.underlying == "BTC":
        return dataclasses.replace(index, price=index.price * 3)
    return index


SCENARIOS: dict[str, BadData] = {
    "crossed hedge book": BadData(
        quote=_perp_only(_crossed), logged_as=frozenset({"feed.crossed_book", BAD_DATA})
    ),
    "option quote of a held option without mark_iv": BadData(
        quote=_no_iv,
        logged_as=frozenset({"risk.unvalued", BAD_DATA}),
        events=frozenset({BAD_DATA, "risk.unvalued"}),
    ),
    "hedge perpetual 90% below its index": BadData(
        quote=_perp_only(_gap_90), logged_as=frozenset({BAD_DATA})
    ),
    "BTC index three times the perpetual mark": BadData(
        index=_index_times_3, logged_as=frozenset({BAD_DATA})
    ),
    "zero mark on the hedge perpetual": BadData(
        quote=_perp_only(_zero_mark), logged_as=frozenset({BAD_DATA})
    ),
    "position in an instrument the daemon does not know": BadData(
        positions=(UNKNOWN,),
        logged_as=frozenset({"risk.unvalued"}),
        events=frozenset({"risk.unvalued"}),
    ),
    "position whose venue delta is far from ours": BadData(
        positions=(DIVERGENT,),
        logged_as=frozenset({"greeks.divergence"}),
        events=frozenset({"greeks.divergence"}),
    ),
    "position whose size disagrees with size_currency": BadData(
        positions=(MISREAD,),
        logged_as=frozenset({"risk.unvalued"}),
        events=frozenset({"risk.unvalued"}),
    ),
}

_TRADES_ON_IT = "the engine trades on it: nothing checks a quote against the index or the book"
_NO_EVENT = "no event is journaled (nothing an alert could hang on): BookState/risk only log"


def _cases(check: str) -> list[Any]:
    return [pytest.param(name, id=name) for name in SCENARIOS]


# --- test-side feed and broker wrappers ---------------------------------------------------------


@dataclass
class Schedule:
    """Which bad data is active at the clock's time."""

    clock: Clock
    start_ms: int
    bad: BadData | None

    def at(self, seconds_from: float, seconds_until: float = math.inf) -> bool:
        elapsed = (self.clock.now_ms() - self.start_ms) / 1000
        return seconds_from <= elapsed < seconds_until

    def corrupting(self) -> BadData | None:
        return self.bad if self.at(BAD_FROM_S, GOOD_FROM_S) else None

    def positions(self) -> tuple[Position, ...]:
        extra = (SHOCK,) if self.at(SHOCK_FROM_S) else ()
        bad = self.corrupting()
        return extra + (bad.positions if bad else ())


class CorruptingSink:
    """Passes market data on, corrupted while the schedule says so."""

    def __init__(self, inner: MarketSink, schedule: Schedule) -> None:
        self._inner = inner
        self._schedule = schedule

    def on_quote(self, quote: Quote) -> None:
        bad = self._schedule.corrupting()
        self._inner.on_quote(bad.quote(quote) if bad and bad.quote else quote)

    def on_index(self, index: IndexPrice) -> None:
        bad = self._schedule.corrupting()
        self._inner.on_index(bad.index(index) if bad and bad.index else index)

    def on_feed_status(self, venue: str, *, connected: bool, reason: str) -> None:
        self._inner.on_feed_status(venue, connected=connected, reason=reason)


class CorruptingFeed:
    """A MarketFeed whose quotes and index prices pass through a `CorruptingSink`."""

    def __init__(self, inner: MarketFeed, schedule: Schedule) -> None:
        self.venue = inner.venue
        self._inner = inner
        self._schedule = schedule

    async def instruments(self) -> Sequence[Instrument]:
        return await self._inner.instruments()

    async def stream(self, keys: Sequence[InstrumentKey], sink: MarketSink) -> None:
        await self._inner.stream(keys, CorruptingSink(sink, self._schedule))


class ExtraPositionsSink:
    """Adds the scheduled extra positions to every account snapshot."""

    def __init__(self, inner: AccountSink, schedule: Schedule) -> None:
        self._inner = inner
        self._schedule = schedule

    def on_account(self, snapshot: AccountSnapshot) -> None:
        self._inner.on_account(_with_extra(snapshot, self._schedule))

    def on_order(self, update: OrderUpdate) -> None:
        self._inner.on_order(update)

    def on_fill(self, fill: Fill) -> None:
        self._inner.on_fill(fill)


def _with_extra(snapshot: AccountSnapshot, schedule: Schedule) -> AccountSnapshot:
    extra = schedule.positions()
    return dataclasses.replace(snapshot, positions=snapshot.positions + extra)


class WatchedBroker:
    """A Broker whose snapshots carry the scheduled extra positions, recording every submit."""

    def __init__(self, inner: Broker, schedule: Schedule) -> None:
        self.account = inner.account
        self.venue = inner.venue
        self._inner = inner
        self._schedule = schedule
        self.submits: list[tuple[float, OrderRequest]] = []
        """(seconds since start, order) of every order the venue received."""

    async def stream(self, sink: AccountSink) -> None:
        await self._inner.stream(ExtraPositionsSink(sink, self._schedule))

    async def snapshot(self) -> AccountSnapshot:
        return _with_extra(await self._inner.snapshot(), self._schedule)

    async def open_orders(self) -> Sequence[OrderUpdate]:
        return await self._inner.open_orders()

    async def fills_since(self, timestamp_ms: int) -> Sequence[Fill]:
        return await self._inner.fills_since(timestamp_ms)

    async def fills_of(self, client_id: str, key: InstrumentKey) -> Sequence[Fill]:
        return await self._inner.fills_of(client_id, key)

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        elapsed = (self._schedule.clock.now_ms() - self._schedule.start_ms) / 1000
        self.submits.append((elapsed, order))
        return await self._inner.submit(order)

    async def cancel(self, client_id: str, key: InstrumentKey) -> None:
        await self._inner.cancel(client_id, key)

    async def lookup(self, client_id: str, key: InstrumentKey) -> OrderUpdate | None:
        return await self._inner.lookup(client_id, key)


# --- running a scenario ---------------------------------------------------------------------


@dataclass
class Run:
    """What one simulated run of the daemon did."""

    submits: list[tuple[float, OrderRequest]]
    logs: list[MutableMapping[str, Any]]
    events: list[tuple[float, str, Mapping[str, object]]]
    views: list[tuple[float, TurnView]]
    crash: BaseException | None = None

    def btc_orders(self, start_s: float, end_s: float) -> list[tuple[float, OrderRequest]]:
        return [
            (t, o) for t, o in self.submits if start_s <= t < end_s and o.key.symbol[:3] == "BTC"
        ]

    def warnings(self) -> set[str]:
        return {str(e["event"]) for e in self.logs if e.get("log_level") in ("warning", "error")}


@dataclass
class _Observer:
    start_ms: int
    views: list[tuple[float, TurnView]] = field(default_factory=list)

    def on_turn(self, view: TurnView) -> None:
        self.views.append(((view.now_ms - self.start_ms) / 1000, view))


def _watching(
    schedule: Callable[[], Schedule], broker_type: type[WatchedBroker], watched: list[WatchedBroker]
) -> VenueHooks:
    """The venue builder's hooks: every feed corrupted by the schedule, the "main" account's
    broker watched (and kept in `watched`). `schedule` is read when `Runtime.start` builds the
    venues, after the runtime's clock exists."""

    def watch(broker: Broker) -> Broker:
        if broker.account != "main":
            return broker
        watched.append(broker_type(broker, schedule()))
        return watched[-1]

    return VenueHooks(feed=lambda feed: CorruptingFeed(feed, schedule()), broker=watch)


async def _run(state_dir: Path, bad: BadData | None) -> Run:
    settings = settings_for(state_dir)
    watched: list[WatchedBroker] = []
    schedules: list[Schedule] = []
    hooks = _watching(lambda: schedules[0], WatchedBroker, watched)
    runtime = Runtime(settings, live=False, observers=[], hooks=hooks)
    start_ms = runtime.clock.now_ms()
    schedules.append(Schedule(clock=runtime.clock, start_ms=start_ms, bad=bad))
    observer = _Observer(start_ms)
    runtime.observers.append(observer)
    events: list[tuple[float, str, Mapping[str, object]]] = []
    runtime.event_listeners.append(
        lambda event: events.append(
            ((runtime.clock.now_ms() - start_ms) / 1000, event.kind, event.detail())
        )
    )
    crash = None
    with capture_logs() as logs:
        try:
            await runtime.run(asyncio.Event(), stop_at_ms=start_ms + int(END_S * 1000))
        except Exception as exc:  # the verdict of the "keeps running" test
            crash = exc
    return Run(watched[0].submits, logs, events, observer.views, crash)


class Runs:
    """One simulated run per scenario, shared by the tests of this module."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self._factory = factory
        self._runs: dict[str, Run] = {}

    def __getitem__(self, name: str) -> Run:
        if name not in self._runs:
            bad = SCENARIOS.get(name)
            self._runs[name] = asyncio.run(_run(self._factory.mktemp("state"), bad))
        return self._runs[name]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Lazily run (once) the control and each scenario."""
    return Runs(tmp_path_factory)


CONTROL = "good data"


def test_the_shock_is_hedged_at_once_on_good_data(runs: Runs) -> None:
    """On good data the +5 BTC shock is hedged within seconds: the scenarios below would trade
    in their bad window if nothing stopped them."""
    run = runs[CONTROL]
    assert run.crash is None
    assert run.btc_orders(SHOCK_FROM_S, SHOCK_FROM_S + 10)
    assert not run.warnings() & {BAD_DATA, "risk.unvalued", "feed.crossed_book"}
    assert not [kind for _, kind, _ in run.events if kind in (BAD_DATA, "risk.unvalued")]


@pytest.mark.parametrize("scenario", _cases("no_order"))
def test_no_order_is_sent_while_bad_data_is_the_newest(runs: Runs, scenario: str) -> None:
    """The venue receives no BTC order from shortly after the bad data arrives until good data
    returns, although the shock calls for one."""
    run = runs[scenario]
    assert run.crash is None, f"the daemon crashed: {run.crash!r}"
    sent = run.btc_orders(BAD_FROM_S + SETTLED_S, GOOD_FROM_S)
    assert sent == [], [(t, o.key.symbol, o.side.value, o.amount) for t, o in sent]


@pytest.mark.parametrize("scenario", _cases("logged"))
def test_bad_data_is_logged_as_a_structured_warning(runs: Runs, scenario: str) -> None:
    """A structured warning line names the problem (the control run has none)."""
    run = runs[scenario]
    assert run.warnings() & SCENARIOS[scenario].logged_as
    assert not runs[CONTROL].warnings() & SCENARIOS[scenario].logged_as


@pytest.mark.parametrize("scenario", _cases("event"))
def test_bad_data_raises_an_alert_worthy_event(runs: Runs, scenario: str) -> None:
    """The runtime journals an event (what alerts hang on) while the bad data lasts."""
    run = runs[scenario]
    kinds = {kind for t, kind, _ in run.events if BAD_FROM_S <= t < GOOD_FROM_S}
    assert kinds & SCENARIOS[scenario].events, sorted(kinds)


@pytest.mark.parametrize("scenario", _cases("resumes"))
def test_daemon_keeps_running_and_hedges_again_on_good_data(runs: Runs, scenario: str) -> None:
    """The daemon turns through the bad window without crashing, and once good data is back it
    hedges the shock: BTC ends active and inside its band."""
    run = runs[scenario]
    assert run.crash is None, f"the daemon crashed: {run.crash!r}"
    times = [t for t, _ in run.views]
    assert times[-1] >= END_S - 2
    assert max(b - a for a, b in itertools.pairwise(times)) <= 2.0
    final = run.views[-1][1].underlyings["BTC"]
    assert final.trading == "active", final.decision
    assert not final.outside_band, (final.net_delta, final.band)
    assert run.btc_orders(SHOCK_FROM_S, END_S), "the shock was never hedged"


# --- a venue that says no -------------------------------------------------------------------


class RecordingDispatcher(AlertDispatcher):
    """An alert dispatcher without channels that remembers every alert it was given."""

    def __init__(self) -> None:
        super().__init__([])
        self.alerts: list[Alert] = []

    def submit(self, alert: Alert) -> None:
        self.alerts.append(alert)
        super().submit(alert)


class RejectingBroker(WatchedBroker):
    """A venue that refuses every BTC hedge (insufficient funds) and accepts the rest."""

    async def submit(self, order: OrderRequest) -> OrderUpdate:
        if order.key.symbol.startswith("BTC"):
            elapsed = (self._schedule.clock.now_ms() - self._schedule.start_ms) / 1000
            self.submits.append((elapsed, order))
            raise OrderRejected("insufficient funds")
        return await super().submit(order)


async def _rejecting_venue(state_dir: Path) -> dict[str, object]:
    settings = settings_for(state_dir)
    watched: list[WatchedBroker] = []
    schedules: list[Schedule] = []
    hooks = _watching(lambda: schedules[0], RejectingBroker, watched)
    hooks = dataclasses.replace(hooks, feed=VenueHooks().feed)  # the market data stays good
    runtime = Runtime(settings, live=False, observers=[], hooks=hooks)
    start_ms = runtime.clock.now_ms()
    schedules.append(Schedule(clock=runtime.clock, start_ms=start_ms, bad=None))
    dispatcher = RecordingDispatcher()
    surface = OperatorSurface(
        settings=settings,
        state=runtime.state,
        metrics=Metrics(process_collectors=False),
        alerts=dispatcher,
        halt=runtime.halt,
        resume=runtime.resume,
        flatten=runtime.flatten,
    )
    runtime.observers.append(surface)
    runtime.event_listeners.append(surface.on_event)
    await runtime.run(asyncio.Event(), stop_at_ms=start_ms + 120_000)
    return {
        "alerts": [alert.key for alert in dispatcher.alerts],
        "halted": sorted(runtime.gatekeeper.guard_state.halted),
        "refused": sum(1 for _, o in watched[0].submits if o.key.symbol.startswith("BTC")),
        "max_rejects": settings.guards.max_consecutive_rejects,
    }


def rejecting_venue_report(state_dir: str) -> None:
    """Entry point of the child process: run the scenario, print its findings as JSON."""
    configure_logging(level="warning", fmt="json")
    print(REPORT + json.dumps(asyncio.run(_rejecting_venue(Path(state_dir)))))


REPORT = "REPORT "


async def test_rejected_hedges_are_alerted_and_halt_the_underlying(tmp_path: Path) -> None:
    """A venue refusing every BTC hedge never breaks the daemon: each refusal is alerted
    (`order.rejected.BTC`), and after `max_consecutive_rejects` BTC halts with a critical
    `hedge.failing.BTC` alert instead of retrying forever.

    It runs in a child process: the failure it reproduces (a KeyError raised by CPython 3.11's
    keyword merge inside an except block) leaves the interpreter unable to parse source
    afterwards, which would take the whole pytest session down."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from tests.e2e.test_bad_input_daemon import rejecting_venue_report as run; "
        f"run({str(tmp_path)!r})",
        cwd=ROOT,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 0, err.decode()[-3000:]
    lines = [line for line in out.decode().splitlines() if line.startswith(REPORT)]
    assert lines, (out.decode()[-2000:], err.decode()[-2000:])
    report = json.loads(lines[-1].removeprefix(REPORT))
    assert "order.rejected.BTC" in report["alerts"], report
    assert "hedge.failing.BTC" in report["alerts"], report
    assert report["halted"] == ["BTC"], report
    assert report["refused"] == report["max_rejects"], report


# --- the filter on its own --------------------------------------------------------------------

_PERP = Instrument(
    venue="v", symbol="BTC-PERPETUAL", underlying="BTC", kind=Kind.PERPETUAL, contract_size=10
)
_DAY_MS = 86_400_000
_CALL = Instrument(
    venue="v",
    symbol="BTC-1Y-60000-C",
    underlying="BTC",
    kind=Kind.OPTION,
    settlement=Settlement.INVERSE,
    contract_size=0.1,
    expiry_ms=365 * _DAY_MS,
    strike=60_000.0,
    option_type=OptionType.CALL,
)


def _quote(instrument: Instrument, price: float, **changes: Any) -> Quote:
    fields: dict[str, Any] = {
        "key": instrument.key,
        "timestamp_ms": 0,
        "bid": price * 0.999,
        "ask": price * 1.001,
        "mark_price": price,
        "underlying_price": price,
        "mark_iv": 0.6 if instrument.kind is Kind.OPTION else None,
    }
    return Quote(**{**fields, **changes})


def _index(price: float) -> IndexPrice:
    return IndexPrice(venue="v", underlying="BTC", price=price, timestamp_ms=0)


_LIMITS = SanityLimits()


@pytest.mark.parametrize(
    ("quote", "instrument", "index", "problem"),
    [
        (_quote(_PERP, 60_000, bid=60_100.0), _PERP, _index(60_000), "crossed"),
        (_quote(_PERP, 60_000, mark_price=0.0), _PERP, None, "not positive"),
        (_quote(_CALL, 0.05, underlying_price=60_000.0, mark_iv=None), _CALL, None, "volatility"),
        (_quote(_PERP, 6_000), _PERP, _index(60_000), "-90% from the BTC index"),
        (_quote(_PERP, 60_000), _PERP, _index(180_000), "-67% from the BTC index"),
        (_quote(_PERP, 66_500), _PERP, _index(60_000), "+11% from"),
    ],
)
def test_absurd_quotes_are_named(
    quote: Quote, instrument: Instrument, index: IndexPrice | None, problem: str
) -> None:
    """Each absurd quote gets a sentence saying what is wrong with it."""
    found = quote_problem(quote, instrument=instrument, index=index, now_ms=0, limits=_LIMITS)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize(
    ("quote", "instrument", "index"),
    [
        (_quote(_PERP, 60_500), _PERP, _index(60_000)),
        (_quote(_PERP, 60_000, bid=0.0), _PERP, _index(60_000)),
        (_quote(_CALL, 0.05, underlying_price=75_000.0), _CALL, _index(60_000)),
        (_quote(_PERP, 6_000), _PERP, None),
        (_quote(_PERP, 6_000), None, _index(60_000)),
    ],
)
def test_believable_quotes_pass(
    quote: Quote, instrument: Instrument | None, index: IndexPrice | None
) -> None:
    """Normal basis, an empty book side, a one-year option's 25% contango and quotes with
    nothing to compare with are all believed."""
    assert quote_problem(quote, instrument=instrument, index=index, now_ms=0, limits=_LIMITS) is (
        None
    )


def test_an_index_must_agree_with_one_perpetual() -> None:
    """An index near any perpetual of its venue is believed; far from all of them, it is not."""
    other = InstrumentKey("v", "BTC_USDC-PERPETUAL")
    marks = {_PERP.key: 6_000.0, other: 60_100.0}
    assert index_problem(_index(60_000), perpetual_marks=marks, limits=_LIMITS) is None
    found = index_problem(_index(180_000), perpetual_marks=marks, limits=_LIMITS)
    assert found is not None
    assert "BTC_USDC-PERPETUAL" in found
    assert index_problem(_index(1.0), perpetual_marks={}, limits=_LIMITS) is None


@pytest.mark.parametrize("value", [-0.1, math.nan, math.inf])
def test_limits_refuse_nonsense(value: float) -> None:
    """Negative or non-finite limits are refused at start-up."""
    with pytest.raises(ValueError, match="max_basis"):
        SanityLimits(max_basis=value)


@dataclass
class _Recorder:
    events: list[tuple[str, Mapping[str, object]]] = field(default_factory=list)

    def __call__(self, event: DaemonEvent) -> None:
        self.events.append((event.kind, event.detail()))


def _filtered() -> tuple[SanityFilter, BookState, _Recorder]:
    state = BookState(clock=SimulatedClock(0))
    recorder = _Recorder()
    instruments = {_PERP.key: _PERP, _CALL.key: _CALL}
    return SanityFilter(state, instruments=instruments, notify=recorder), state, recorder


def test_filter_withdraws_the_previous_quote_and_reports_each_episode_once() -> None:
    """A bad quote takes the instrument's previous quote out of the state (nothing to trade
    on), one event starts the episode however long it lasts, and the first good quote ends it."""
    sink, state, recorder = _filtered()
    sink.on_index(_index(60_000))
    sink.on_quote(_quote(_PERP, 60_000))
    assert _PERP.key in state.quotes
    for _ in range(3):
        sink.on_quote(_quote(_PERP, 60_000, bid=61_000.0))
    assert _PERP.key not in state.quotes
    assert math.isinf(state.quote_age_s(_PERP.key))
    assert sink.refusing == ("v:BTC-PERPETUAL",)
    sink.on_quote(_quote(_PERP, 60_010))
    assert not sink.refusing
    assert state.quotes[_PERP.key].mark_price == 60_010
    assert [kind for kind, _ in recorder.events] == [BAD_DATA, BAD_DATA_CLEARED]
    assert "crossed" in str(recorder.events[0][1]["reason"])
    assert recorder.events[1][1]["refused"] == 3


def test_filter_withdraws_an_index_no_perpetual_agrees_with() -> None:
    """An index three times the perpetual's mark is taken out of the state (the underlying
    cannot be valued, so it holds) until a believable one arrives."""
    sink, state, recorder = _filtered()
    sink.on_quote(_quote(_PERP, 60_000))
    sink.on_index(_index(60_000))
    sink.on_index(_index(180_000))
    assert "BTC" not in state.index
    sink.on_index(_index(60_050))
    assert state.index["BTC"].price == 60_050
    assert [kind for kind, _ in recorder.events] == [BAD_DATA, BAD_DATA_CLEARED]
    assert recorder.events[0][1]["source"] == "v:BTC index"


def test_filter_lets_a_real_move_of_index_and_quotes_through_after_one_step() -> None:
    """A crash of 40% seen by the index and the perpetual alike is held for one step only:
    each side is compared with the other's newest value, accepted or not."""
    sink, state, _ = _filtered()
    sink.on_quote(_quote(_PERP, 60_000))
    sink.on_index(_index(60_000))
    sink.on_quote(_quote(_PERP, 36_000))  # the index has not moved yet: held
    sink.on_index(_index(36_000))  # agrees with the newest perpetual mark: passes
    sink.on_quote(_quote(_PERP, 36_050))
    assert state.quotes[_PERP.key].mark_price == 36_050
    assert state.index["BTC"].price == 36_000
    assert sink.refusing == ()


def test_filter_survives_a_perpetual_without_mark() -> None:
    """A zero mark is refused and is not a reference for the index either."""
    sink, state, recorder = _filtered()
    sink.on_quote(_quote(_PERP, 60_000, mark_price=0.0))
    sink.on_index(_index(60_000))
    assert _PERP.key not in state.quotes
    assert state.index["BTC"].price == 60_000
    assert [kind for kind, _ in recorder.events] == [BAD_DATA]


def test_filter_passes_feed_status_through() -> None:
    """Connection changes reach the state unchanged."""
    sink, state, _ = _filtered()
    sink.on_feed_status("v", connected=True, reason="streaming")
    assert state.feeds["v"].connected


def test_a_size_mismatch_holds_with_a_reason_naming_the_field(runs: Runs) -> None:
    """The hold event (what the alert carries) names the venue field that disagreed."""
    run = runs["position whose size disagrees with size_currency"]
    reasons = [
        str(detail.get("reason", ""))
        for t, kind, detail in run.events
        if kind == "risk.unvalued" and BAD_FROM_S <= t < GOOD_FROM_S
    ]
    assert reasons
    assert all("size_currency" in reason for reason in reasons), reasons
    assert "50,000 coin" in reasons[0]


def test_a_greeks_divergence_holds_and_alerts_with_both_deltas(runs: Runs) -> None:
    """Past the hold tolerance the underlying holds; the alert event carries both figures."""
    run = runs["position whose venue delta is far from ours"]
    details = [
        detail
        for t, kind, detail in run.events
        if kind == "greeks.divergence" and BAD_FROM_S <= t < GOOD_FROM_S
    ]
    assert details
    assert details[0]["level"] == "hold"
    assert "venue says 5.0000" in str(details[0]["detail"])
    holds = [
        str(detail.get("reason", ""))
        for t, kind, detail in run.events
        if kind == "risk.unvalued" and BAD_FROM_S <= t < GOOD_FROM_S
    ]
    assert any("diverge from the venue's" in reason for reason in holds), holds
