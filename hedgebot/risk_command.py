"""``hedgebot risk``: the one-shot risk report of the account the config names.

Part of the composition root (with `hedgebot.app` and `hedgebot.venue_wiring`): the one other
place that asks which mode it is in, because the report reads a different book in each.

Owns which book is read and how, never the figures (`hedgebot.operator.report` renders them from
the core):

* ``mode = "live"``: the real accounts, over read-only calls only: markets and quotes from the
  public feed, positions, balances and margin from one REST snapshot per account (the
  ``READ_ONLY`` venue graph of `hedgebot.venue_wiring`, no trade permission needed). It never
  places or cancels an order, never opens or writes a journal, starts no account stream, so it
  is safe next to a running daemon;
* ``mode = "paper"`` (and the simulated driver): the seed book of the TOML, valued at the venue's
  (or the simulator's) quotes; no journal either.

The report's header says which. A venue that cannot be reached within `timeout_s` raises
`VenueUnreachable` (the CLI prints one line and exits 75, venue unavailable).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from hedgebot.app import hedge_rule, report_mode
from hedgebot.config import Settings, load_settings
from hedgebot.core.risk import AccountBook, BookSnapshot
from hedgebot.daemon.startup import await_market_data, load_instruments, reconcile_accounts
from hedgebot.daemon.state import BookState
from hedgebot.model.errors import AuthenticationFailed, VenueError
from hedgebot.model.instruments import InstrumentKey
from hedgebot.operator.logs import configure_logging
from hedgebot.operator.report import risk_report_text
from hedgebot.venue_wiring import VenueGraph, VenueMode, open_venues, symbols_by_venue

DEFAULT_TIMEOUT_S = 30.0


class VenueUnreachable(VenueError):
    """The report's venue did not answer (or answered with an error) in time."""


async def risk_report(*, config: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """The report text of the configured book (see the module docstring)."""
    settings = load_settings(config)
    configure_logging(level="error", fmt="json")
    try:
        async with asyncio.timeout(timeout_s):
            return await _report(settings)
    except TimeoutError:
        raise VenueUnreachable(f"no complete answer from the venue within {timeout_s:g}s") from None
    except VenueUnreachable:
        raise
    except AuthenticationFailed:
        raise
    except VenueError as exc:
        raise VenueUnreachable(str(exc)) from None


def _header(settings: Settings, mode: VenueMode) -> str:
    """What the report's book is, in one line."""
    if mode is VenueMode.READ_ONLY:
        accounts = ", ".join(f"{a}@{s.venue}" for a, s in sorted(settings.accounts.items()))
        return f"LIVE accounts {accounts}, read-only (no order sent, no journal written)"
    from_venue = sorted(a for a, s in settings.accounts.items() if s.snapshot_from_venue)
    if from_venue and mode is VenueMode.PAPER:
        return (
            f"PAPER: accounts {', '.join(from_venue)} start from the venue account's "
            "positions and balances (read once, read-only); fills would be simulated"
        )
    kind = "SIMULATED" if mode is VenueMode.SIMULATED else "PAPER"
    return (
        f"{kind}: the seed book of the config (positions and collateral as configured), "
        "valued at the venue's quotes; not a venue account"
    )


async def _report(settings: Settings) -> str:
    mode = report_mode(settings)
    venues: VenueGraph = await open_venues(settings, mode=mode, client_prefix="hbrisk")
    tasks: list[asyncio.Task[None]] = []
    try:
        wanted = [
            InstrumentKey(venue, symbol)
            for venue, symbols in symbols_by_venue(settings).items()
            for symbol in symbols
        ]
        instruments = await load_instruments(list(venues.feeds.values()), wanted)
        state = BookState(clock=venues.clock)
        await reconcile_accounts(venues.brokers, state)
        keys = set(wanted) | {
            p.key for s in state.accounts.values() for p in s.positions if p.amount
        }
        underlyings = set(settings.hedges) | {
            instruments[k].underlying for k in keys if k in instruments
        }
        for venue, feed in venues.feeds.items():
            own = sorted(k for k in keys if k.venue == venue)
            tasks.append(asyncio.create_task(feed.stream(own, state)))
        await await_market_data(state, keys, sorted(underlyings), venues.clock, timeout_s=20.0)
        books = [
            AccountBook(
                account=name,
                positions=snapshot.positions,
                collateral=snapshot.collateral,
                margin=snapshot.margin,
                count_collateral=spec.count_collateral,
            )
            for name, spec in settings.accounts.items()
            if (snapshot := state.accounts.get(name)) is not None
        ]
        model = settings.margin.margin_model()
        return risk_report_text(
            BookSnapshot(
                books=books,
                instruments=instruments,
                quotes=state.quotes,
                index_prices={u: i.price for u, i in state.index.items()},
                now_ms=venues.clock.now_ms(),
            ),
            stress=settings.margin.stress_scenario(),
            margin_models=dict.fromkeys(settings.accounts, model),
            source=_header(settings, mode),
            vega_limits=dict(settings.vega_limits),
            hedges={u: hedge_rule(h) for u, h in settings.hedges.items()},
        )
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        await venues.close()
