"""Control flow travels as typed events and typed codes, not strings: each event kind has one
frozen payload journaled under the names earlier releases stored; the executor's outcomes reach
the gatekeeper through the runtime as events; the engine's rows carry the policy's reason code
and a typed status."""

from __future__ import annotations

import math
from pathlib import Path

from hedgebot.app import Runtime
from hedgebot.core.units import lot_in_coin
from hedgebot.model import events
from hedgebot.model.events import EVENT_TYPES, DaemonEventKind
from hedgebot.model.trading import (
    ReasonCode,
    TradingOrigin,
    TradingState,
    UnderlyingStatus,
)
from tests.support.daemon_harness import settings_for


def test_every_kind_has_exactly_one_payload_class() -> None:
    assert sorted(t.kind for t in EVENT_TYPES) == sorted(DaemonEventKind)


def test_payloads_are_journaled_under_the_names_earlier_releases_stored() -> None:
    changed = events.TradingStateChanged(
        before=TradingState.ACTIVE,
        after=TradingState.REDUCING,
        reason="worst MM/equity 81%",
        origin=TradingOrigin.MARGIN,
    )
    assert changed.detail() == {
        "from": "active",
        "to": "reducing",
        "reason": "worst MM/equity 81%",
        "origin": "margin",
    }
    failed = events.DaemonFailed(error="StateUnusable", detail_text="disk full")
    assert failed.detail() == {"error": "StateUnusable", "detail": "disk full"}
    assert events.OrderRejected(underlying="BTC", client_id="hb1n1", reason="x").detail() == {
        "underlying": "BTC",
        "client_id": "hb1n1",
        "reason": "x",
    }
    assert DaemonEventKind.DAEMON_STARTED.value == "daemon.started"


def test_the_runtime_tells_the_gatekeeper_order_outcomes_and_journals_them_by_kind(
    tmp_path: Path,
) -> None:
    """Rejects build the underlying's streak and are journaled; an accept ends the streak and
    is neither journaled nor counted (it happens for every order)."""
    runtime = Runtime(settings_for(tmp_path), live=False, observers=[])
    try:
        for n in range(2):
            runtime.notify(events.OrderRejected(underlying="BTC", client_id=f"hb{n}", reason="x"))
        assert runtime.gatekeeper.guard_state.consecutive_rejects == {"BTC": 2}
        runtime.notify(events.OrderAccepted(underlying="BTC"))
        assert runtime.gatekeeper.guard_state.consecutive_rejects.get("BTC", 0) == 0
        assert runtime.journal.count_events(DaemonEventKind.ORDER_REJECTED) == 2
        assert runtime.journal.count_events("order.rejected") == 2
        assert runtime.journal.count_events(DaemonEventKind.ORDER_ACCEPTED) == 0
        assert runtime.events == {"order.rejected": 2}
    finally:
        runtime.journal.close()


async def test_an_order_in_flight_holds_by_its_code_and_halts_show_as_typed_status(
    tmp_path: Path,
) -> None:
    """The book starts outside its band. With all trading halted the policy still wants a hedge
    (the guard refuses it); resumed, with one order of ours not yet settled, the row holds with
    IN_FLIGHT and sends nothing; with the hedge instrument halted the row says so by status."""
    runtime = Runtime(settings_for(tmp_path), live=False, observers=[])
    try:
        engine = await runtime.start()
        runtime.gatekeeper.halt("test: look first")
        halted = await engine.turn()
        assert halted.trading_state is TradingState.HALTED
        assert halted.trading_origin is TradingOrigin.OPERATOR
        refused = {
            n: r
            for n, r in halted.underlyings.items()
            if r.decision_code is ReasonCode.GUARD_REFUSED
        }
        assert refused, {n: r.decision for n, r in halted.underlyings.items()}
        name, row = next(iter(refused.items()))
        assert row.status is UnderlyingStatus.REFUSED
        assert halted.to_dict()["trading_state"] == "halted"

        runtime.gatekeeper.resume()
        leg = engine.legs[name]
        quote = runtime.state.quotes[leg.instrument.key]
        gap = row.delta_with_in_flight - row.target
        away = math.copysign(lot_in_coin(leg.instrument, quote.mark_price), gap)
        assert runtime.executor.place(leg, order_delta=away, quote=quote) is not None
        orders = runtime.executor.stats.orders[name]
        view = await engine.turn()
        held = view.underlyings[name]
        assert held.decision_code is ReasonCode.IN_FLIGHT, held.decision
        assert held.status is UnderlyingStatus.ACTIVE
        assert view.trading_state is TradingState.ACTIVE
        assert runtime.executor.stats.orders[name] == orders, "nothing sent while in flight"
        status = view.to_dict()["underlyings"]
        assert isinstance(status, dict)
        assert status[name]["decision_code"] == "in_flight"

        runtime.executor.halted[leg.instrument.key] = "test: order lost"
        blocked = (await engine.turn()).underlyings[name]
        assert blocked.status is UnderlyingStatus.INSTRUMENT_HALTED
        assert blocked.trading == "halted: test: order lost"
    finally:
        await runtime.shutdown()
