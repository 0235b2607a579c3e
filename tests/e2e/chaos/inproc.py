"""The daemon in the scenario's own process: `Runtime` from the composition root, live, through
unmodified ccxt to the exchange on 127.0.0.1.

Owns `InProcessDaemon`: start (waits until the start-up gates passed and the engine exists),
liveness (the run task must not end before it is told to), the operator's resume (the reject
scenarios' halt is lifted once the faults stopped, as an operator would), and a clean stop.
Event chaos (`fill_chaos`) is given to the runtime here, as the venue builder's broker hook.

It must not check invariants.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from hedgebot.app import Runtime
from hedgebot.clock import WallClock
from hedgebot.config import Settings, load_settings
from hedgebot.venue_wiring import VenueHooks
from hedgebot_localvenues.deribit.server import DeribitSimServer
from tests.e2e.chaos.fill_chaos import ChaosSwitch, hooks
from tests.e2e.chaos.rig import CONFIG, daemon_environ
from tests.e2e.chaos.scenarios import IN_PROCESS_ONLY, Scenario

START_TIMEOUT_S = 40.0
STOP_TIMEOUT_S = 25.0
POLL_S = 0.05


class InProcessDaemon:
    """One `Runtime.run` task in this event loop."""

    def __init__(
        self,
        server: DeribitSimServer,
        scenario: Scenario,
        state_dir: Path,
        switch: ChaosSwitch,
        *,
        settings: Settings | None = None,
    ) -> None:
        """`settings` default to config/deribit-local.toml with `rig.daemon_environ`'s overrides."""
        if settings is None:
            settings = load_settings(CONFIG, environ=daemon_environ(server, state_dir, scenario))
        chaos = hooks(switch) if scenario.kinds & IN_PROCESS_ONLY else VenueHooks()
        self.runtime = Runtime(settings, live=True, observers=[], hooks=chaos)
        self.journal_path = state_dir / "journal-live.sqlite"
        self.problems: list[str] = []
        self.restarts = 0
        self._stop = asyncio.Event()
        self._told_to_stop = False
        """Set by `stop` only: the daemon's supervisor sets `_stop` itself when a task dies."""
        self._task: asyncio.Task[object] | None = None

    async def start(self) -> None:
        """Run the daemon; return once its engine exists (or it died trying)."""
        self._task = asyncio.create_task(self.runtime.run(self._stop))
        waited = 0.0
        while self.runtime.engine is None and not self._task.done() and waited < START_TIMEOUT_S:
            await WallClock().sleep(POLL_S)
            waited += POLL_S
        self.check_alive()
        if self.runtime.engine is None and not self.problems:
            self.problems.append(f"daemon not started after {START_TIMEOUT_S:.0f} s")

    def check_alive(self) -> bool:
        """False (and a problem noted once) if the run task ended on its own."""
        task = self._task
        if task is None or not task.done() or self._told_to_stop:
            return task is not None
        problem = f"daemon ended on its own: {_ending(task)}"
        if problem not in self.problems:
            self.problems.append(problem)
        return False

    def operator_resume(self) -> bool:
        """Resume trading if anything is halted (an operator's `hedgebot resume`)."""
        halted = self.runtime.gatekeeper.guard_state.halted or self.runtime.executor.halted
        if halted:
            self.runtime.resume()
        return bool(halted)

    async def stop(self) -> None:
        """Tell the daemon to stop; it must end cleanly and in time."""
        self.check_alive()
        if self._task is None or self._task.done():
            return
        self._told_to_stop = True
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S)
        except TimeoutError:
            self.problems.append(f"daemon did not stop within {STOP_TIMEOUT_S:.0f} s")
            self._task.cancel()
        except Exception as exc:  # the daemon's own failure is what is being reported
            self.problems.append(f"daemon stop raised {exc!r}")


def _ending(task: asyncio.Task[object]) -> str:
    if task.cancelled():
        return "cancelled"
    error = task.exception()
    return "returned" if error is None else repr(error)
