"""Revaluation against the local exchange's own figures: the coin equity carried forward from one
account read with the new marks is within a small bound of what the venue then reports."""

from __future__ import annotations

from dataclasses import replace

from hedgebot.core.revalue import equity_of, revalue
from hedgebot.model.account import AccountSnapshot, MarginState
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import Quote
from hedgebot_localvenues.deribit.server import DeribitSimServer
from tests.support.live_harness import local_exchange

BOUND_COIN = 1e-6
"""What may separate the revalued from the reported equity after the market moved an hour (the
venue figures equity from the same marks: only float rounding; measured 0 to 6 decimals)."""


async def _read(
    server: DeribitSimServer,
) -> tuple[AccountSnapshot, dict[str, float], dict[InstrumentKey, Quote]]:
    state = server.state
    snapshot = await state.broker("main").snapshot()
    equity = {f.currency: f.equity for f in state.account_figures(snapshot)}
    quotes = {i.key: state.market.quote(i) for i in state.instruments()}
    return snapshot, equity, quotes


async def test_revalued_equity_tracks_the_venue_after_a_move() -> None:
    """Read the account, let the exchange's market run an hour, revalue the first read with the
    new marks: each currency's equity is within `BOUND_COIN` of what the venue reports, where
    the unrevalued figure was off by the whole move."""
    async with local_exchange() as (server, _book):
        instruments = {i.key: i for i in server.state.instruments()}
        first, equity_then, quotes_then = await _read(server)
        server.paused = True
        server.advance(3600)
        second, equity_now, quotes_now = await _read(server)
    assert first.positions == second.positions
    read = replace(
        first,
        margin=tuple(
            MarginState(currency=c, equity=e, initial_margin=0.0, maintenance_margin=0.0)
            for c, e in equity_then.items()
        ),
    )
    carried = revalue(read, instruments=instruments, read_quotes=quotes_then, quotes=quotes_now)
    for currency in ("BTC", "ETH"):
        revalued = equity_of(carried.margin, currency)
        assert revalued is not None
        difference = abs(revalued - equity_now[currency])
        moved = abs(equity_then[currency] - equity_now[currency])
        assert moved > 1e-4, "the market moved the equity"
        assert difference <= BOUND_COIN, f"{currency}: off by {difference} after {moved}"
