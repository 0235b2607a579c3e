"""One scenario of the per-venue campaign, start to finish, in its own process:
``python -m tests.e2e.chaos.venue_worker VENUE SCENARIO.json RESULT.json WORKDIR``.

Owns `run_venue_scenario`, the counterpart of `worker.run_scenario` when the hedge is on another
venue: start the local Deribit exchange (the options book) and the venue's local exchange (the
hedge perpetual) on ephemeral 127.0.0.1 ports, start the daemon on the venue's cross-venue config
(in-process, or as a subprocess for kill/restart), sample both accounts every 0.2 s, wait for the
trigger (the n-th create the hedge venue logged, at most the first: the book needs only a few
orders; or a drawn delay), run the fault window (and the kills), lift a reject halt as an
operator would, wait — polling with a deadline — until the book is back in band with no open
order and every trade journaled, stop the daemon, and check the same invariants
(`invariants.check`) over what both exchanges and the journal say; a ``daemon.task_died`` in
the journal counts against I4 too (an in-process daemon whose stream task died keeps its run
task alive).

A failure of the harness itself is reported as ``harness_error``, never as a daemon violation.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from hedgebot.clock import WallClock
from hedgebot.config import load_settings
from hedgebot.operator.logs import configure_logging
from tests.e2e.chaos.fill_chaos import ChaosSwitch
from tests.e2e.chaos.inproc import InProcessDaemon
from tests.e2e.chaos.invariants import BAND_TOLERANCE, Evidence, check, worst_residuals
from tests.e2e.chaos.probes import Figures, read_journal
from tests.e2e.chaos.rig import LIMITS
from tests.e2e.chaos.scenarios import FaultKind, Scenario
from tests.e2e.chaos.subproc import SubprocessDaemon
from tests.e2e.chaos.venue_faults import clear_venue, run_venue_fault_window
from tests.e2e.chaos.venue_kills import run_venue_kills
from tests.e2e.chaos.venue_probe import VenueProbe
from tests.e2e.chaos.venue_rig import venue_config, venue_environ, venue_rig
from tests.e2e.chaos.worker import harness_error
from tests.support.cross_venue import CrossVenue, HedgeVenue

SAMPLE_S = 0.2
TRIGGER_TIMEOUT_S = 30.0
RECOVERY_TIMEOUT_S = 45.0
RECOVERY_POLL_S = 0.25
HALT_WAIT_S = 3.0
"""How long after a reject window the operator looks for the halt before giving up on it (fewer
than three rejects never halt)."""

_clock = WallClock()
Daemon = InProcessDaemon | SubprocessDaemon


async def _sample_forever(probe: VenueProbe) -> None:
    while True:
        await probe.sample()
        await _clock.sleep(SAMPLE_S)


async def _trigger(probe: VenueProbe, scenario: Scenario, daemon: Daemon) -> str:
    if scenario.trigger_orders == 0:
        await _clock.sleep(scenario.trigger_delay_s)
        return f"after {scenario.trigger_delay_s} s"
    waited = 0.0
    while not probe.hedge_creates() and daemon.check_alive():
        if waited >= TRIGGER_TIMEOUT_S:
            return "timeout waiting for a create"
        await _clock.sleep(0.02)
        waited += 0.02
    return "after the first create"


def _out_of_band(figures: dict[str, Figures]) -> list[str]:
    return [
        f"{code} options+hedge delta {f.residual:+.3f} (band {LIMITS[code].band})"
        for code, f in figures.items()
        if abs(f.residual) > LIMITS[code].band * BAND_TOLERANCE
    ]


async def _recover(probe: VenueProbe, daemon: Daemon, journal: Path) -> tuple[list[str], float]:
    """Wait until in band, nothing open and every trade journaled, twice in a row."""
    started = time.monotonic()
    good = 0
    last: list[str] = []
    while time.monotonic() - started < RECOVERY_TIMEOUT_S and daemon.check_alive():
        outside = _out_of_band(await probe.figures())
        open_orders = [o.label for o in probe.orders() if o.is_open]
        journaled = {f.trade_id for f in read_journal(journal).fills}
        unjournaled = [t.trade_id for t in probe.trades() if t.trade_id not in journaled]
        good = good + 1 if not (outside or open_orders or unjournaled) else 0
        if good >= 2:
            return [], time.monotonic() - started
        last = outside
        if not outside:
            last = [f"open orders {open_orders}"] if open_orders else []
            last += [f"unjournaled trades {unjournaled}"] if unjournaled else []
        await _clock.sleep(RECOVERY_POLL_S)
    waited = time.monotonic() - started
    return [f"not settled {waited:.0f} s after the faults stopped: {'; '.join(last)}"], waited


async def _resume_after_rejects(daemon: Daemon, scenario: Scenario) -> bool:
    """Lift the halt the rejects caused, as an operator would once it shows: the halt comes
    on the turn after the last reject, so a resume right when the window ends can miss it."""
    if FaultKind.REJECT not in scenario.kinds:
        return False
    waited = 0.0
    while not daemon.operator_resume():
        if waited >= HALT_WAIT_S or not daemon.check_alive():
            return False
        await _clock.sleep(RECOVERY_POLL_S)
        waited += RECOVERY_POLL_S
    return True


def _daemon(rig: CrossVenue, scenario: Scenario, state: Path, switch: ChaosSwitch) -> Daemon:
    overrides = venue_environ(rig, state)
    if scenario.in_process:
        settings = load_settings(venue_config(rig), environ=overrides)
        return InProcessDaemon(rig.deribit, scenario, state, switch, settings=settings)
    return SubprocessDaemon(
        rig.deribit, scenario, state, config=venue_config(rig), overrides=overrides
    )


async def _faults_and_kills(
    rig: CrossVenue, probe: VenueProbe, scenario: Scenario, daemon: Daemon, switch: ChaosSwitch
) -> dict[str, Any]:
    window = run_venue_fault_window(rig, scenario, switch)
    if isinstance(daemon, SubprocessDaemon):
        report, kills = await asyncio.gather(window, run_venue_kills(probe, scenario, daemon))
        return {**report, "kills": kills}
    return await window


async def run_venue_scenario(
    exchange: HedgeVenue, scenario: Scenario, workdir: Path
) -> dict[str, Any]:
    """Run one scenario with the hedge on `exchange`; its result as JSON data."""
    started = time.monotonic()
    state_dir = workdir / "state"
    switch = ChaosSwitch()
    async with venue_rig(exchange, scenario) as rig:
        probe = VenueProbe(rig)
        probe.watch_creates()
        await probe.sample()
        daemon = _daemon(rig, scenario, state_dir, switch)
        sampler = asyncio.create_task(_sample_forever(probe))
        try:
            await daemon.start()
            trigger = await _trigger(probe, scenario, daemon)
            window = await _faults_and_kills(rig, probe, scenario, daemon, switch)
            resumed = await _resume_after_rejects(daemon, scenario)
            band_problems, settle_s = await _recover(probe, daemon, daemon.journal_path)
        finally:
            clear_venue(rig, switch)
            await daemon.stop()
            sampler.cancel()
        await probe.sample()
        changed = await probe.book_changes()
        if changed:
            raise RuntimeError(f"the options book changed on Deribit: {'; '.join(changed)}")
        journal = read_journal(daemon.journal_path)
        died = journal.events.get("daemon.task_died", 0)
        liveness = [*daemon.problems] + (
            [f"daemon.task_died journaled {died} times"] if died else []
        )
        evidence = Evidence(
            creates=probe.creates(),
            orders=probe.orders(),
            trades=probe.trades(),
            journal=journal,
            samples=probe.samples,
            liveness_problems=liveness,
            band_problems=band_problems,
        )
    return {
        "venue": exchange,
        "scenario": scenario.to_json(),
        "name": scenario.name,
        "primary": scenario.primary.value,
        "violations": check(evidence),
        "metrics": {
            "duration_s": round(time.monotonic() - started, 1),
            "settle_s": round(settle_s, 1),
            "trigger": trigger,
            "window": window,
            "operator_resumed": resumed,
            "restarts": daemon.restarts,
            "creates": len(evidence.creates),
            "trades": len(evidence.trades),
            "events": evidence.journal.events,
            "event_chaos": switch.injected,
            "worst_residual": worst_residuals(evidence.samples),
        },
    }


def main(argv: Sequence[str]) -> int:
    """Entry point: run the scenario in argv[1] on venue argv[0], write its result to argv[2]."""
    exchange = cast(HedgeVenue, argv[0])
    spec, out, workdir = Path(argv[1]), Path(argv[2]), Path(argv[3])
    scenario = Scenario.from_json(json.loads(spec.read_text()))
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / "harness.log").open("w") as log:
        configure_logging(level="info", fmt="json", stream=log)
        try:
            result = asyncio.run(run_venue_scenario(exchange, scenario, workdir))
        except Exception:
            result = harness_error(scenario, traceback.format_exc(limit=8))
    out.write_text(json.dumps(result, indent=1, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
