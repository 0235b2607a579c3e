"""One scenario, start to finish, in its own process:
``python -m tests.e2e.chaos.worker SCENARIO.json RESULT.json WORKDIR``.

Owns `run_scenario`: start the local exchange (its book and market drawn by the scenario) on an
ephemeral 127.0.0.1 port, start the daemon (in-process, or as a subprocess for kill/restart),
sample the account every 0.2 s, wait for the trigger (the n-th create in the exchange's request
log, polled, or a drawn delay), run the fault window (and the kills), lift a reject halt as an
operator would, wait — polling with a deadline — until the account is back in band with no
open order and every trade journaled, stop the daemon, and check the invariants.

A failure of the harness itself is reported as ``harness_error``, never as a daemon violation.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hedgebot.clock import WallClock
from hedgebot.operator.logs import configure_logging
from hedgebot_localvenues.deribit.cli import build_server
from hedgebot_localvenues.deribit.server import DeribitSimServer
from tests.e2e.chaos.faults import arm_venue_timing, clear, run_fault_window
from tests.e2e.chaos.fill_chaos import ChaosSwitch
from tests.e2e.chaos.inproc import InProcessDaemon
from tests.e2e.chaos.invariants import (
    BAND_TOLERANCE,
    Evidence,
    check,
    worst_residuals,
)
from tests.e2e.chaos.probes import ExchangeProbe, read_journal
from tests.e2e.chaos.rig import LIMITS, exchange_start, scenario_book, scenario_market
from tests.e2e.chaos.scenarios import FaultKind, Scenario
from tests.e2e.chaos.subproc import SubprocessDaemon, run_kills

SAMPLE_S = 0.2
TRIGGER_TIMEOUT_S = 30.0
RECOVERY_TIMEOUT_S = 45.0
RECOVERY_POLL_S = 0.25

_clock = WallClock()
Daemon = InProcessDaemon | SubprocessDaemon


async def _sample_forever(probe: ExchangeProbe) -> None:
    while True:
        await probe.sample()
        await _clock.sleep(SAMPLE_S)


async def _trigger(probe: ExchangeProbe, scenario: Scenario, daemon: Daemon) -> str:
    if scenario.trigger_orders == 0:
        await _clock.sleep(scenario.trigger_delay_s)
        return f"after {scenario.trigger_delay_s} s"
    waited = 0.0
    while len(probe.creates()) < scenario.trigger_orders and daemon.check_alive():
        if waited >= TRIGGER_TIMEOUT_S:
            return f"timeout waiting for {scenario.trigger_orders} creates"
        await _clock.sleep(0.02)
        waited += 0.02
    return f"after {scenario.trigger_orders} creates"


def _out_of_band(figures: dict[str, Any]) -> list[str]:
    return [
        f"{code} equity+delta {f.residual:+.3f} (band {LIMITS[code].band})"
        for code, f in figures.items()
        if abs(f.residual) > LIMITS[code].band * BAND_TOLERANCE
    ]


async def _recover(probe: ExchangeProbe, daemon: Daemon, journal: Path) -> tuple[list[str], float]:
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


def _daemon(
    server: DeribitSimServer, scenario: Scenario, state: Path, switch: ChaosSwitch
) -> Daemon:
    if scenario.in_process:
        return InProcessDaemon(server, scenario, state, switch)
    return SubprocessDaemon(server, scenario, state)


async def _faults_and_kills(
    server: DeribitSimServer, scenario: Scenario, daemon: Daemon, switch: ChaosSwitch
) -> dict[str, Any]:
    window = run_fault_window(server, scenario, switch)
    if isinstance(daemon, SubprocessDaemon):
        report, kills = await asyncio.gather(window, run_kills(server, scenario, daemon))
        return {**report, "kills": kills}
    return await window


async def run_scenario(scenario: Scenario, workdir: Path) -> dict[str, Any]:
    """Run one scenario; its result as JSON data."""
    started = time.monotonic()
    state_dir = workdir / "state"
    book = scenario_book(scenario, exchange_start(scenario, dt.datetime.now(dt.UTC)))
    server = await build_server(
        book,
        seed=scenario.seed,
        speed=1.0,
        port=0,
        faults_http=True,
        market=scenario_market(scenario),
    )
    switch = ChaosSwitch()
    async with server:
        probe = ExchangeProbe(server)
        daemon = _daemon(server, scenario, state_dir, switch)
        sampler = asyncio.create_task(_sample_forever(probe))
        try:
            await arm_venue_timing(server, scenario)
            await daemon.start()
            trigger = await _trigger(probe, scenario, daemon)
            window = await _faults_and_kills(server, scenario, daemon, switch)
            resumed = daemon.operator_resume() if FaultKind.REJECT in scenario.kinds else False
            band_problems, settle_s = await _recover(probe, daemon, daemon.journal_path)
        finally:
            clear(server, switch)
            await daemon.stop()
            sampler.cancel()
        await probe.sample()
        evidence = Evidence(
            creates=probe.creates(),
            orders=probe.orders(),
            trades=probe.trades(),
            journal=read_journal(daemon.journal_path),
            samples=probe.samples,
            liveness_problems=daemon.problems,
            band_problems=band_problems,
        )
    return {
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


def harness_error(scenario: Scenario, error: str) -> dict[str, Any]:
    """The result of a scenario whose harness failed (not a daemon violation)."""
    return {
        "scenario": scenario.to_json(),
        "name": scenario.name,
        "primary": scenario.primary.value,
        "violations": {},
        "harness_error": error,
        "metrics": {},
    }


def main(argv: Sequence[str]) -> int:
    """Entry point: run the scenario in argv[0], write its result to argv[1]."""
    spec, out, workdir = Path(argv[0]), Path(argv[1]), Path(argv[2])
    scenario = Scenario.from_json(json.loads(spec.read_text()))
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / "harness.log").open("w") as log:
        configure_logging(level="info", fmt="json", stream=log)
        try:
            result = asyncio.run(run_scenario(scenario, workdir))
        except Exception:
            result = harness_error(scenario, traceback.format_exc(limit=8))
    out.write_text(json.dumps(result, indent=1, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
