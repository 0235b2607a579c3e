"""The daemon as its own process (``python -m hedgebot run --config ... --live``), killed with
SIGKILL mid-hedge and restarted on the same state directory.

Owns `SubprocessDaemon` (spawn, wait until started, kill -9, restart, SIGTERM stop that must
exit 0) and `run_kills` (the scenario's kill points: just after the exchange logged a create,
just after a create whose answer the exchange withheld, or at a random moment).

Cross-process waits poll, with a deadline, the journal's ``daemon.started`` events (SQLite, read
only) and the exchange's request log (in this process). It must not check invariants.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from hedgebot.clock import WallClock
from hedgebot.model.account import AccountSnapshot
from hedgebot_localvenues.deribit.registry import OrderRecord, TradeRecord
from hedgebot_localvenues.deribit.server import DeribitSimServer
from tests.e2e.chaos.probes import ExchangeProbe, read_journal
from tests.e2e.chaos.rig import ACCOUNT, CONFIG, daemon_environ
from tests.e2e.chaos.scenarios import FaultKind, Scenario

START_TIMEOUT_S = 45.0
STOP_TIMEOUT_S = 25.0
KILL_POINT_TIMEOUT_S = 15.0
POLL_S = 0.01
REPO = CONFIG.parents[1]

_clock = WallClock()


async def _until(condition: Callable[[], bool], timeout_s: float, poll_s: float = POLL_S) -> bool:
    """Poll `condition` until it holds (True) or `timeout_s` passed (False)."""
    waited = 0.0
    while not condition():
        if waited >= timeout_s:
            return False
        await _clock.sleep(poll_s)
        waited += poll_s
    return True


class SubprocessDaemon:
    """``hedgebot run`` in a child process, its output in a log file."""

    def __init__(
        self,
        server: DeribitSimServer,
        scenario: Scenario,
        state_dir: Path,
        *,
        config: Path = CONFIG,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        """`overrides` (HEDGEBOT__* variables of `config`) default to `rig.daemon_environ`'s."""
        if overrides is None:
            overrides = daemon_environ(server, state_dir, scenario)
        self._environ = {**os.environ, **overrides}
        self._config = config
        self.journal_path = state_dir / "journal-live.sqlite"
        self._log_path = state_dir / "daemon.log"
        self._log: IO[bytes] | None = None
        self.problems: list[str] = []
        self.restarts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._killed = False

    def _started_runs(self) -> int:
        return read_journal(self.journal_path).events.get("daemon.started", 0)

    async def start(self) -> None:
        """Spawn the daemon; return once it journaled ``daemon.started`` (or died trying)."""
        runs = self._started_runs()
        if self._log is None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self._log_path.open("ab")
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hedgebot",
            "run",
            "--config",
            str(self._config),
            "--live",
            cwd=REPO,
            env=self._environ,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._killed = False
        started = await _until(
            lambda: self._started_runs() > runs or not self.check_alive(), START_TIMEOUT_S, 0.1
        )
        if not started:
            self.problems.append(f"daemon not started after {START_TIMEOUT_S:.0f} s")

    def check_alive(self) -> bool:
        """False (and a problem noted once) if the daemon exited without being told to."""
        process = self._process
        if process is None or process.returncode is None or self._killed:
            return process is not None and process.returncode is None
        problem = f"daemon exited on its own with status {process.returncode}"
        if problem not in self.problems:
            self.problems.append(problem)
        return False

    def kill_now(self) -> None:
        """SIGKILL from a synchronous callback, without waiting for the process to end."""
        if self._process is not None and self.check_alive():
            self._killed = True
            self._process.send_signal(signal.SIGKILL)

    async def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self._process is None or not self.check_alive():
            return
        self._killed = True
        self._process.send_signal(signal.SIGKILL)
        await self._process.wait()

    async def restart(self) -> None:
        """Start again on the same state directory."""
        self.restarts += 1
        await self.start()

    def operator_resume(self) -> bool:
        """Not available without the HTTP surface: kill scenarios never need it."""
        return False

    async def stop(self) -> None:
        """SIGTERM; the daemon must exit 0 within the timeout."""
        process = self._process
        if process is not None and self.check_alive():
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                self.problems.append(f"daemon ignored SIGTERM for {STOP_TIMEOUT_S:.0f} s")
                process.send_signal(signal.SIGKILL)
                await process.wait()
            if process.returncode != 0:
                self.problems.append(f"daemon exited {process.returncode} on SIGTERM")
        if self._log is not None:
            self._log.close()
            self._log = None


def _unanswered(journal: Path) -> set[str]:
    """Labels the journal holds as intents still waiting for their create's answer."""
    orders = read_journal(journal).orders.values()
    return {o.client_id for o in orders if o.state == "pending_submit"}


async def _kill_point(server: DeribitSimServer, at: str, rng: random.Random, journal: Path) -> str:
    """Wait for the drawn kill moment; say what it was. ``create``: just after the exchange
    logged a create (another intent may be journaled and not yet sent: a crash between intent
    and send); ``lost_create``: a create executed but unanswered, every other one answered."""
    probe = ExchangeProbe(server)
    seen = len(probe.creates())
    if at == "random":
        await _clock.sleep(rng.uniform(0.2, 3.0))
        return "random"
    if at == "lost_create":
        server.faults.lose_next_order(1, mode="hang")
        hit = await _until(
            lambda: any(c.outcome == "lost" for c in probe.creates()[seen:]), KILL_POINT_TIMEOUT_S
        )
        server.faults.reset()
        if not hit:
            return "timeout waiting for a create"
        lost = {c.label for c in probe.creates()[seen:] if c.outcome == "lost"}
        await _until(lambda: _unanswered(journal) <= lost, KILL_POINT_TIMEOUT_S, 0.05)
        return "after a lost create, every other create answered"
    hit = await _until(lambda: len(probe.creates()) > seen, KILL_POINT_TIMEOUT_S)
    return "after a create" if hit else "timeout waiting for a create"


class _KillOnCreate:
    """An exchange account listener that kill -9s the daemon the moment the exchange registers a
    new order of ours: within the create's own execution, before its answer is sent."""

    def __init__(self, daemon: SubprocessDaemon, known: set[str]) -> None:
        self._daemon = daemon
        self._known = known
        self.hit: str | None = None

    def order_changed(self, record: OrderRecord) -> None:
        if self.hit is None and record.order_id not in self._known:
            self._daemon.kill_now()
            self.hit = f"{record.label} within its create"

    def trade_added(self, trade: TradeRecord) -> None:
        """Trades do not trigger the kill."""

    def account_changed(self, snapshot: AccountSnapshot) -> None:
        """Account changes do not trigger the kill."""


async def _kill_at_create(server: DeribitSimServer, daemon: SubprocessDaemon) -> str:
    known = {o.order_id for o in server.state.registry.orders_of(ACCOUNT)}
    trap = _KillOnCreate(daemon, known)
    server.state.add_listener(trap)
    try:
        await _until(lambda: trap.hit is not None, KILL_POINT_TIMEOUT_S)
    finally:
        server.state.remove_listener(trap)
    await daemon.kill()
    return trap.hit or "timeout waiting for a create"


async def run_kills(
    server: DeribitSimServer, scenario: Scenario, daemon: SubprocessDaemon
) -> list[str]:
    """Kill -9 and restart the daemon at the scenario's kill points; what each kill hit."""
    rng = random.Random(scenario.seed)
    hits = []
    at_create = scenario.fault(FaultKind.KILL_AT_CREATE)
    if at_create is not None:
        for _ in range(int(at_create.params["kills"])):
            hits.append(await _kill_at_create(server, daemon))
            await _clock.sleep(float(at_create.params["down_s"]))
            await daemon.restart()
    fault = scenario.fault(FaultKind.KILL_RESTART)
    if fault is None:
        return hits
    for _ in range(int(fault.params["kills"])):
        hits.append(await _kill_point(server, str(fault.params["at"]), rng, daemon.journal_path))
        await daemon.kill()
        await _clock.sleep(float(fault.params["down_s"]))
        await daemon.restart()
    return hits
