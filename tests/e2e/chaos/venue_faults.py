"""Arming, holding and clearing a scenario's faults when the hedge is on another venue.

Owns `run_venue_fault_window` and `clear_venue`, the counterparts of `faults.run_fault_window`
and `faults.clear`. Each kind, on the hedge venue's `FaultPlan` unless said otherwise:

* WS_DROP: every websocket of both venues closed, `drops` times across the window;
* RATE_LIMIT: the next `count` creates (or, half the time, any `count` requests) answered with
  the venue's rate-limit status and code, not processed;
* DELAY: the next three requests answered `ms` late;
* LOST_HANG: the next `count` creates executed, answered 12 s later: past ccxt's 10 s timeout;
* LOST_CLOSE: the next `count` creates executed and their connections dropped unanswered, or,
  drawn per scenario, dropped before the exchange processed them;
* REJECT: the next `count` creates refused with the venue's insufficient-margin code;
* DUP_FILLS, REORDER: the daemon's account events duplicated or reordered (`fill_chaos`);
* PRICE_GAP: Deribit's clock jumps `hours` ahead (the hedge venue's index follows Deribit's).

Kills are the subprocess driver's (`venue_kills`). Timing uses `WallClock.sleep`: it is the
scenario's schedule, not synchronisation. It must not check anything.
"""

from __future__ import annotations

import random

from hedgebot.clock import WallClock
from hedgebot_localvenues.common.faults import Fault as VenueFault
from hedgebot_localvenues.common.faults import FaultKind as VenueFaultKind
from tests.e2e.chaos.faults import ORDER_FAULT_GRACE_S, POLL_S
from tests.e2e.chaos.fill_chaos import ChaosSwitch
from tests.e2e.chaos.scenarios import Fault, FaultKind, Scenario
from tests.e2e.chaos.venue_rig import CREATE_PATHS, REJECTS
from tests.support.cross_venue import CrossVenue

HANG_S = 12.0
"""A "hung" create is answered this late: after ccxt's create timeout (10 s) gave up on it."""
DELAYED_REQUESTS = 3
ANY_REQUEST = ""
"""A fault path matching every REST request."""

_clock = WallClock()


def _planned(rig: CrossVenue, fault: Fault, rng: random.Random) -> list[VenueFault]:
    """The one-shot request faults a kind arms on the hedge venue (none for the other kinds)."""
    params, kind = fault.params, fault.kind
    create = CREATE_PATHS[rig.exchange]
    count = int(params.get("count", 0))
    if kind is FaultKind.RATE_LIMIT:
        path = create if params["order_entry_only"] else ANY_REQUEST
        return [VenueFault(kind="rate_limit", path=path)] * count
    if kind is FaultKind.DELAY:
        delay_s = int(params["ms"]) / 1000
        return [VenueFault(kind="delay", path=ANY_REQUEST, delay_s=delay_s)] * DELAYED_REQUESTS
    if kind is FaultKind.LOST_HANG:
        return [VenueFault(kind="delay", path=create, method="POST", delay_s=HANG_S)] * count
    if kind is FaultKind.LOST_CLOSE:
        how: VenueFaultKind = "reject_before" if rng.random() < 0.5 else "lose_answer"
        return [VenueFault(kind=how, path=create, method="POST")] * count
    if kind is FaultKind.REJECT:
        code, message = REJECTS[rig.exchange]
        return [
            VenueFault(kind="error", path=create, method="POST", code=code, message=message)
        ] * count
    return []


async def _arm(rig: CrossVenue, fault: Fault, switch: ChaosSwitch, rng: random.Random) -> None:
    params, kind = fault.params, fault.kind
    for planned in _planned(rig, fault, rng):
        rig.hedge.faults.arm(planned)
    if kind is FaultKind.WS_DROP:
        rig.hedge.faults.drop_websockets = True
        await rig.deribit.faults.drop_websockets()
    elif kind is FaultKind.PRICE_GAP:
        rig.deribit.advance(float(params["hours"]) * 3600)
    elif kind is FaultKind.DUP_FILLS:
        switch.copies = int(params["copies"])
        switch.late_ms = int(params["late_ms"])
        switch.enabled = True
    elif kind is FaultKind.REORDER:
        switch.hold_ms = int(params["hold_ms"])
        switch.stale_snapshots = bool(params["stale_snapshots"])
        switch.enabled = True


async def _during(rig: CrossVenue, scenario: Scenario) -> None:
    """Hold the window; repeat websocket drops across it."""
    drops = scenario.fault(FaultKind.WS_DROP)
    count = int(drops.params["drops"]) if drops else 1
    drop_at = [scenario.window_s * i / count for i in range(1, count)]
    elapsed = 0.0
    while elapsed < scenario.window_s:
        await _clock.sleep(POLL_S)
        elapsed += POLL_S
        if drop_at and elapsed >= drop_at[0]:
            drop_at.pop(0)
            rig.hedge.faults.drop_websockets = True
            await rig.deribit.faults.drop_websockets()


def _pending(rig: CrossVenue, switch: ChaosSwitch) -> bool:
    """True while an armed fault has not hit anything yet."""
    return (switch.enabled and not switch.injected) or rig.hedge.faults.pending > 0


async def run_venue_fault_window(
    rig: CrossVenue, scenario: Scenario, switch: ChaosSwitch
) -> dict[str, object]:
    """Arm, hold, clear; what happened (for the report)."""
    rng = random.Random(f"faults:{scenario.seed}")
    for fault in scenario.faults:
        await _arm(rig, fault, switch, rng)
    await _during(rig, scenario)
    waited = 0.0
    while _pending(rig, switch) and waited < ORDER_FAULT_GRACE_S:
        await _clock.sleep(POLL_S)
        waited += POLL_S
    fired = [f.kind for f in rig.hedge.faults.fired]
    unconsumed = rig.hedge.faults.pending
    clear_venue(rig, switch)
    return {"fired": fired, "unconsumed": unconsumed, "extra_wait_s": round(waited, 1)}


def clear_venue(rig: CrossVenue, switch: ChaosSwitch) -> None:
    """Every fault off: nothing armed on either venue, no event chaos."""
    rig.hedge.faults.clear()
    rig.deribit.faults.reset()
    switch.enabled = False
