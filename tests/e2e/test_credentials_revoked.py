"""Credentials revoked while the daemon runs live: its next private call is refused, the
account stream's supervisor stops trading, alerts, and the run ends with
`AuthenticationFailed` — exit status 77, which systemd does not restart on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from hedgebot.app import Runtime
from hedgebot.daemon.exit_status import ExitStatus, classify
from hedgebot.model.errors import AuthenticationFailed
from tests.support.live_harness import Watcher, daemon_settings, hedged_into_bands, local_exchange


async def test_revoked_credentials_stop_the_daemon_with_status_77(tmp_path: Path) -> None:
    async with local_exchange(faults=False) as (server, _book):
        settings = daemon_settings(server, tmp_path, mode="live")
        settings = settings.model_copy(
            update={
                "venues": {
                    "deribit": settings.venues["deribit"].model_copy(
                        update={"reconcile_interval_s": 1.0}
                    )
                }
            }
        )
        runtime = Runtime(settings, live=True, observers=[])
        watcher = Watcher(hedged_into_bands)
        runtime.observers.append(watcher)
        stop = asyncio.Event()
        task = asyncio.create_task(runtime.run(stop))
        await asyncio.wait_for(watcher.reached.wait(), 60)
        server.state.auth.revoke("sim-main")
        with pytest.raises(AuthenticationFailed) as failure:
            await asyncio.wait_for(task, 60)
    assert classify(failure.value)[0] is ExitStatus.CREDENTIALS
    with sqlite3.connect(tmp_path / "journal-live.sqlite") as db:
        kinds = [r[0] for r in db.execute("SELECT kind FROM events ORDER BY id")]
    db.close()
    assert "daemon.task_died" in kinds
    assert kinds[-1] == "daemon.stopped"
