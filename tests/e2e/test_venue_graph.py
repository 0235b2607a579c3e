"""The venue builder returns one finished, frozen graph per mode (issue 9, fix 4).

For the simulated exchange, and for paper, live and read-only against the local
Deribit-protocol exchange on 127.0.0.1 (unmodified ccxt): every configured venue has its feed
and every configured account its broker, ready to use without a further "open" step, and no
feed or broker can be added, replaced or removed afterwards. The one seam, `VenueHooks`, is
applied while the graph is built: a wrapper given there is what the graph holds.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import cast

import pytest

from hedgebot.config import Settings
from hedgebot.model.account import AccountSnapshot
from hedgebot.venue_wiring import VenueGraph, VenueHooks, VenueMode, open_venues
from hedgebot.venues.ports import Broker, MarketFeed
from tests.support.daemon_harness import settings_for
from tests.support.live_harness import daemon_settings, local_exchange


def _assert_frozen(graph: VenueGraph, broker: Broker, feed: MarketFeed) -> None:
    """No part of the graph can be replaced, added or removed."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.brokers = {}  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.clock = graph.clock  # type: ignore[misc]
    with pytest.raises(TypeError):
        graph.brokers["main"] = broker  # type: ignore[index]
    with pytest.raises(TypeError):
        graph.brokers["another"] = broker  # type: ignore[index]
    with pytest.raises(TypeError):
        del graph.brokers["main"]  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        graph.feeds[feed.venue] = feed  # type: ignore[index]


async def _assert_complete(graph: VenueGraph, settings: Settings) -> dict[str, AccountSnapshot]:
    """A feed per venue and a broker per account, each usable as returned."""
    assert set(graph.feeds) == set(settings.venues)
    assert set(graph.brokers) == set(settings.accounts)
    for name, feed in graph.feeds.items():
        assert feed.venue == name
        assert list(await feed.instruments()), f"{name}: no instruments"
    snapshots = {}
    for name, broker in graph.brokers.items():
        assert broker.account == name
        assert broker.venue == settings.accounts[name].venue
        snapshots[name] = await broker.snapshot()
    return snapshots


async def test_simulated_graph_is_complete_and_frozen(tmp_path: Path) -> None:
    """The simulated exchange's graph: complete, seeded from the config, frozen."""
    settings = settings_for(tmp_path)
    graph = await open_venues(settings, mode=VenueMode.SIMULATED)
    try:
        assert graph.mode is VenueMode.SIMULATED
        snapshots = await _assert_complete(graph, settings)
        configured = {p.symbol for p in settings.accounts["main"].positions}
        assert {p.key.symbol for p in snapshots["main"].positions} == configured
        _assert_frozen(graph, graph.brokers["main"], graph.feeds["sim"])
    finally:
        await graph.close()


@pytest.mark.parametrize("mode", [VenueMode.PAPER, VenueMode.LIVE, VenueMode.READ_ONLY])
async def test_exchange_graph_is_complete_and_frozen(tmp_path: Path, mode: VenueMode) -> None:
    """Paper, live and read-only against the local exchange: complete and frozen as returned.
    Paper starts from the config's seed book, live and read-only read the exchange's account;
    none of them sends an order while being built."""
    async with local_exchange() as (server, book):
        config_mode = "paper" if mode is VenueMode.PAPER else "live"
        settings = daemon_settings(server, tmp_path, mode=config_mode)
        graph = await open_venues(settings, mode=mode, client_prefix="hbtest")
        try:
            assert graph.mode is mode
            snapshots = await _assert_complete(graph, settings)
            _assert_frozen(graph, graph.brokers["main"], graph.feeds["deribit"])
        finally:
            await graph.close()
        order_calls = server.requests.order_entry_calls()
        private = {m for m in server.requests.methods() if m.startswith("private/")}
    held = {p.key.symbol for p in snapshots["main"].positions if p.amount}
    if mode is VenueMode.PAPER:
        assert private == set(), "paper must not call a private endpoint"
        assert held == {p.symbol for p in settings.accounts["main"].positions if p.amount}
    else:
        assert held == {p.symbol for p in book.accounts["main"].positions}
    assert order_calls == ()


class _Wrapped:
    """A stand-in wrapper: delegates everything, remembers what it wraps."""

    def __init__(self, inner: object) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


async def test_hooks_wrap_every_part_once_while_the_graph_is_built(tmp_path: Path) -> None:
    """What a hook returns is what the graph holds: each feed and broker wrapped once."""
    settings = settings_for(tmp_path)
    hooks = VenueHooks(
        feed=lambda feed: cast(MarketFeed, _Wrapped(feed)),
        broker=lambda broker: cast(Broker, _Wrapped(broker)),
    )
    graph = await open_venues(settings, mode=VenueMode.SIMULATED, hooks=hooks)
    try:
        parts: list[object] = [*graph.feeds.values(), *graph.brokers.values()]
        assert all(isinstance(p, _Wrapped) for p in parts)
        assert not any(isinstance(cast(_Wrapped, p).inner, _Wrapped) for p in parts)
        assert graph.brokers["main"].account == "main"
        assert (await graph.brokers["main"].snapshot()).account == "main"
    finally:
        await graph.close()
