"""Arming, holding and clearing a scenario's faults on the running local exchange.

Owns `run_fault_window`: arm every fault of the scenario (except kills, which the subprocess
driver owns, and partial fills, which are a thin market from the start), keep them up for the
scenario's window — faults aimed at orders or their events stay armed until they hit something
or a bounded extra time passed, and a lost cancel confirmation as long as the order it will hit
is still open on the exchange (a condition, not a longer wait) — then clear everything
(`FaultController.reset`, the clock running again, event chaos off). Timing uses
`WallClock.sleep`: it is the scenario's schedule, not synchronisation.

It must not check anything.
"""

from __future__ import annotations

from hedgebot.clock import WallClock
from hedgebot_localvenues.deribit.faults import LossMode
from hedgebot_localvenues.deribit.server import DeribitSimServer
from tests.e2e.chaos.fill_chaos import ChaosSwitch
from tests.e2e.chaos.rig import ACCOUNT
from tests.e2e.chaos.scenarios import Fault, FaultKind, Scenario

ORDER_METHODS = ("private/buy", "private/sell")
ORDER_FAULT_GRACE_S = 8.0
"""How long past the window a fault aimed at orders waits for an order to hit it."""
DUE_HIT_BOUND_S = 60.0
"""Past the grace, a lost cancel confirmation whose resting order is still open waits for
that order's cancel (it is certain to come, however slow the machine); this bound only keeps
a daemon that never cancels from hanging the harness (its open order is then a violation)."""
POLL_S = 0.1

_clock = WallClock()


async def _arm(server: DeribitSimServer, fault: Fault, switch: ChaosSwitch) -> None:
    faults, params = server.faults, fault.params
    kind = fault.kind
    if kind is FaultKind.WS_DROP:
        await faults.drop_websockets()
    elif kind is FaultKind.ERROR_FRAME:
        await faults.send_error_frame(code=int(params["code"]))
    elif kind is FaultKind.RATE_LIMIT:
        methods = ORDER_METHODS if params["order_entry_only"] else None
        faults.rate_limit_next(int(params["count"]), methods=methods)
    elif kind is FaultKind.DELAY:
        faults.delay(int(params["ms"]))
    elif kind in (FaultKind.LOST_HANG, FaultKind.LOST_CLOSE):
        mode: LossMode = "hang" if kind is FaultKind.LOST_HANG else "close"
        faults.lose_next_order(int(params["count"]), mode=mode)
    elif kind is FaultKind.REJECT:
        faults.fail_next(
            code=int(params["code"]), count=int(params["count"]), methods=ORDER_METHODS
        )
    elif kind is FaultKind.STALE_FEED:
        server.paused = True
    elif kind is FaultKind.PRICE_GAP:
        server.advance(float(params["hours"]) * 3600)
    elif kind is FaultKind.DUP_FILLS:
        switch.copies = int(params["copies"])
        switch.late_ms = int(params["late_ms"])
        switch.enabled = True
    elif kind is FaultKind.REORDER:
        switch.hold_ms = int(params["hold_ms"])
        switch.stale_snapshots = bool(params["stale_snapshots"])
        switch.enabled = True
    else:
        await _arm_timing(server, fault)


VENUE_TIMING = frozenset({FaultKind.NOTIFY_TIMING, FaultKind.READ_SPACING})
"""Kinds that describe how the venue behaves rather than an incident: armed before the daemon
starts (its start-up races them too) and kept until the window ends."""


async def arm_venue_timing(server: DeribitSimServer, scenario: Scenario) -> None:
    """Arm the scenario's venue-timing faults now, before the daemon starts."""
    for fault in scenario.faults:
        if fault.kind in VENUE_TIMING:
            await _arm_timing(server, fault)


async def _arm_timing(server: DeribitSimServer, fault: Fault) -> None:
    """The timing faults: late notifications, spaced reads, resting orders whose cancel
    confirmation is lost (and private streams stalled by two error frames)."""
    faults, params = server.faults, fault.params
    if fault.kind is FaultKind.NOTIFY_TIMING:
        for family, ms in params.items():
            faults.delay_notifications(str(family), int(ms))
    elif fault.kind is FaultKind.READ_SPACING:
        for method, ms in params.items():
            faults.delay_method(str(method), int(ms))
    elif fault.kind is FaultKind.LOST_CANCEL:
        faults.rest_next_orders(int(params["count"]))
        faults.lose_cancel_confirmations(int(params["count"]))
        for _ in range(int(params["error_frames"])):
            await faults.send_error_frame(code=11094)


async def _during(server: DeribitSimServer, scenario: Scenario) -> None:
    """Hold the window; repeat websocket drops across it; unpause a stale feed on time."""
    drops = scenario.fault(FaultKind.WS_DROP)
    stale = scenario.fault(FaultKind.STALE_FEED)
    count = int(drops.params["drops"]) if drops else 1
    drop_at = [scenario.window_s * i / count for i in range(1, count)]
    stale_s = float(stale.params["seconds"]) if stale else 0.0
    elapsed = 0.0
    while elapsed < max(scenario.window_s, stale_s):
        await _clock.sleep(POLL_S)
        elapsed += POLL_S
        if drop_at and elapsed >= drop_at[0]:
            drop_at.pop(0)
            await server.faults.drop_websockets()
        if stale and elapsed >= stale_s:
            server.paused = False


def _pending(server: DeribitSimServer, switch: ChaosSwitch) -> bool:
    """True while a fault aimed at orders (or at their events) has not hit anything yet."""
    if switch.enabled and not switch.injected:
        return True
    state = server.faults.state()
    if state["resting_orders"] or state["lost_cancel_confirmations"]:
        return True
    return bool(state["lost_orders"]) or any(
        rule["methods"] is not None for rule in state["errors"]
    )


def _hit_due(server: DeribitSimServer) -> bool:
    """True while a fault's hit is certain to come: the order the fault made rest is still open,
    so the daemon's cancel of it (after its order timeout) will take the lost confirmation."""
    state = server.faults.state()
    if state["resting_orders"] or not state["lost_cancel_confirmations"]:
        return False
    return any(o.is_open for o in server.state.registry.orders_of(ACCOUNT))


async def run_fault_window(
    server: DeribitSimServer, scenario: Scenario, switch: ChaosSwitch
) -> dict[str, object]:
    """Arm, hold, clear; what happened (for the report)."""
    for fault in scenario.faults:
        await _arm(server, fault, switch)
    await _during(server, scenario)
    waited = 0.0
    while _pending(server, switch) and (
        waited < ORDER_FAULT_GRACE_S or (_hit_due(server) and waited < DUE_HIT_BOUND_S)
    ):
        await _clock.sleep(POLL_S)
        waited += POLL_S
    unconsumed = server.faults.state()
    clear(server, switch)
    return {"unconsumed": unconsumed, "extra_wait_s": round(waited, 1)}


def clear(server: DeribitSimServer, switch: ChaosSwitch) -> None:
    """Every fault off: nothing armed, the clock running, no event chaos."""
    server.faults.reset()
    server.paused = False
    switch.enabled = False
