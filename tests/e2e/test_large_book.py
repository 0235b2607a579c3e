"""A 1,000-option book on the local Deribit-protocol exchange: the daemon subscribes it in a
handful of batched requests, values every option, and hedges it into its bands (live mode,
unmodified ccxt). A behaviour test: how fast it gets there is `benchmarks/bench_live.py`'s job.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from structlog.testing import capture_logs

from hedgebot.app import Runtime
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.view import TurnView
from hedgebot_localvenues.deribit.cli import build_server
from hedgebot_localvenues.deribit.large_book import large_book
from tests.support.live_harness import Watcher, daemon_settings, run_until


class _HedgedOnce:
    """Both underlyings valued, each has had a hedge order filled, and a fill has settled into
    the book: the delta the daemon holds (in-flight orders aside) is smaller than at first."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}

    def __call__(self, view: TurnView) -> bool:
        rows = view.underlyings
        for name, row in rows.items():
            if row.price > 0:
                self.first.setdefault(name, abs(row.net_delta))
        return {"BTC", "ETH"} <= set(self.first) and all(
            row.hedge_orders >= 1 and row.fills >= 1 and abs(row.net_delta) < self.first[name]
            for name, row in rows.items()
        )


async def test_a_1000_option_book_reaches_readiness_and_hedges(tmp_path: Path) -> None:
    """Every option is subscribed (in batched requests, not one per option), quoted and valued
    before the first hedge; the socket is never recycled for instruments still subscribing;
    both underlyings get hedges filled, and their delta moves toward zero."""
    book = large_book(dt.datetime.now(dt.UTC))
    option_symbols = [s for s in book.symbols if s.count("-") == 3]
    held = [p.symbol for p in book.accounts["main"].positions if p.symbol.count("-") == 3]
    assert len(option_symbols) == 1000
    assert len(held) == 1000
    server = await build_server(book, seed=11, speed=1.0, port=0, tick_s=0.25)
    async with server:
        settings = daemon_settings(server, tmp_path, mode="live")
        runtime = Runtime(settings, live=True, observers=[])
        watcher = Watcher(_HedgedOnce())
        with capture_logs() as logs:
            await run_until(runtime, watcher, timeout_s=120)
        subscribes = [r for r in server.requests.entries() if r.method == "public/subscribe"]
    events = {entry["event"] for entry in logs}
    assert "startup.market_data_missing" not in events, "the book was not quoted at start"
    assert "feed.recycling" not in events, "the socket was recycled while subscribing"
    quoted = {key.symbol for key in runtime.state.quotes}
    assert set(option_symbols) <= quoted
    assert 1 <= len(subscribes) <= 20, f"{len(subscribes)} subscribe requests for 1,000 options"
    first, last = watcher.views[0], watcher.views[-1]
    for name in ("BTC", "ETH"):
        assert first.underlyings[name].outside_band, f"{name}: the book should need a hedge"
        assert abs(last.underlyings[name].net_delta) < abs(first.underlyings[name].net_delta)
    assert all(key in runtime.state.quotes for key in (InstrumentKey("deribit", s) for s in held))
