"""The supervisor: owns every long-lived task of the daemon and notices when one dies.

A task that ends while the daemon is running — with an exception, or by returning — is a
failure: the supervisor records the first one, tells the operator (``daemon.task_died``) and sets
the stop event, so the hedge loop stops trading and the process exits with a named status
(`hedgebot.daemon.exit_status`): the task's own `HedgebotError` class when it raised one
(credentials revoked exit 77, a journal write that failed 74), `TaskDied` (70) otherwise. The
service manager then restarts the process through the start-up gates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog

from hedgebot.model import events
from hedgebot.model.errors import HedgebotError, TaskDied
from hedgebot.model.events import EventSink

log = structlog.get_logger("hedgebot.daemon.supervisor")


class Supervisor:
    """Spawns named tasks, watches them, and cancels them all at the end."""

    def __init__(self, *, stop: asyncio.Event, notify: EventSink) -> None:
        self._stop = stop
        self._notify = notify
        self._tasks: dict[asyncio.Task[Any], str] = {}
        self._closing = False
        self.failure: HedgebotError | None = None

    def spawn(self, name: str, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run `coroutine` as the long-lived task `name`."""
        task = asyncio.ensure_future(coroutine)
        self._tasks[task] = name
        task.add_done_callback(self._finished)
        return task

    def rebind(self, stop: asyncio.Event) -> None:
        """Set `stop` (the run's stop event) when a task dies."""
        self._stop = stop

    def _finished(self, task: asyncio.Task[Any]) -> None:
        name = self._tasks.get(task, "?")
        if self._closing or task.cancelled():
            return
        error = _named(task.exception())
        if isinstance(error, HedgebotError):
            failure: HedgebotError = error
        elif error is not None:
            failure = TaskDied(f"task {name} died: {type(error).__name__}: {error}")
        else:
            failure = TaskDied(f"task {name} ended unexpectedly")
        log.error("daemon.task_died", task=name, error=str(failure))
        if self.failure is None:
            self.failure = failure
            try:
                self._notify(events.TaskDied(task=name, error=str(failure)))
            finally:
                self._stop.set()

    async def close(self, timeout_s: float) -> None:
        """Cancel every task and wait (bounded) for them to finish."""
        self._closing = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        self._tasks.clear()


def _named(error: BaseException | None) -> BaseException | None:
    """The first `HedgebotError` inside a task group's exception group, else the error."""
    while isinstance(error, BaseExceptionGroup):
        typed = error.subgroup(lambda e: isinstance(e, HedgebotError))
        error = (typed or error).exceptions[0]
    return error
