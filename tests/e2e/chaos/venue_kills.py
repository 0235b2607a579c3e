"""kill -9 and restart of the daemon when the hedge is on another venue: the counterpart of
`subproc.run_kills`.

Owns `run_venue_kills`: KILL_AT_CREATE kills the daemon from inside the hedge venue's ledger the
moment it executes a create of ours, before the answer is written (`VenueProbe.create_hooks`);
KILL_RESTART kills it just after the venue logged a create, just after a create whose answer the
venue dropped (every other create answered), or at a random moment. Each kill is followed by a
restart on the same state directory after the drawn downtime. It must not check invariants.
"""

from __future__ import annotations

import random

from hedgebot.clock import WallClock
from hedgebot_localvenues.binance_usdm.ledger import Order
from hedgebot_localvenues.common.faults import Fault as VenueFault
from tests.e2e.chaos.scenarios import FaultKind, Scenario
from tests.e2e.chaos.subproc import KILL_POINT_TIMEOUT_S, SubprocessDaemon, _unanswered, _until
from tests.e2e.chaos.venue_probe import VenueProbe
from tests.e2e.chaos.venue_rig import CREATE_PATHS

_clock = WallClock()


async def _kill_at_create(probe: VenueProbe, daemon: SubprocessDaemon) -> str:
    hit: list[str] = []

    def trap(order: Order) -> None:
        if not hit:
            daemon.kill_now()
            hit.append(f"{order.client_id} within its create")

    probe.create_hooks.append(trap)
    try:
        await _until(lambda: bool(hit), KILL_POINT_TIMEOUT_S)
    finally:
        probe.create_hooks.remove(trap)
    await daemon.kill()
    return hit[0] if hit else "timeout waiting for a create"


async def _kill_point(
    probe: VenueProbe, at: str, rng: random.Random, daemon: SubprocessDaemon
) -> str:
    seen = len(probe.hedge_creates())
    if at == "random":
        await _clock.sleep(rng.uniform(0.2, 3.0))
        return "random"
    if at == "lost_create":
        plan = probe.rig.hedge.faults
        plan.arm(VenueFault(kind="lose_answer", path=CREATE_PATHS[probe.rig.exchange]))
        hit = await _until(
            lambda: any(c.outcome == "lost" for c in probe.hedge_creates()[seen:]),
            KILL_POINT_TIMEOUT_S,
        )
        plan.clear()
        if not hit:
            return "timeout waiting for a create"
        lost = {c.label for c in probe.hedge_creates()[seen:] if c.outcome == "lost"}
        await _until(lambda: _unanswered(daemon.journal_path) <= lost, KILL_POINT_TIMEOUT_S, 0.05)
        return "after a lost create, every other create answered"
    hit = await _until(lambda: len(probe.hedge_creates()) > seen, KILL_POINT_TIMEOUT_S)
    return "after a create" if hit else "timeout waiting for a create"


async def run_venue_kills(
    probe: VenueProbe, scenario: Scenario, daemon: SubprocessDaemon
) -> list[str]:
    """Kill -9 and restart the daemon at the scenario's kill points; what each kill hit."""
    rng = random.Random(scenario.seed)
    hits = []
    at_create = scenario.fault(FaultKind.KILL_AT_CREATE)
    if at_create is not None:
        for _ in range(int(at_create.params["kills"])):
            hits.append(await _kill_at_create(probe, daemon))
            await _clock.sleep(float(at_create.params["down_s"]))
            await daemon.restart()
    fault = scenario.fault(FaultKind.KILL_RESTART)
    if fault is None:
        return hits
    for _ in range(int(fault.params["kills"])):
        hits.append(await _kill_point(probe, str(fault.params["at"]), rng, daemon))
        await daemon.kill()
        await _clock.sleep(float(fault.params["down_s"]))
        await daemon.restart()
    return hits
