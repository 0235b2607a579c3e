"""A halted daemon stays readable: a refusal is logged when it starts, its repeats are summarised
once a minute (clock time), not logged every turn for every underlying."""

from __future__ import annotations

import asyncio
from pathlib import Path

from structlog.testing import capture_logs

from hedgebot.app import Runtime
from tests.support.daemon_harness import settings_for


async def test_refusals_are_logged_once_then_summarised(tmp_path: Path) -> None:
    tight = '{"kind": "fixed", "half_width": 0.001}'  # wants a hedge every turn
    settings = settings_for(
        tmp_path, loop_interval_s="1.0", hedges__btc__band=tight, hedges__eth__band=tight
    )
    runtime = Runtime(settings, live=False, observers=[])
    stop_at = runtime.clock.now_ms() + 600_000
    with capture_logs() as logs:
        runtime.halt("maintenance")
        await runtime.run(asyncio.Event(), stop_at_ms=stop_at)
    refused = [e for e in logs if e["event"] == "guard.refused"]
    summaries = [e for e in logs if e["event"] == "guard.refusals"]
    halts = [e for e in logs if e["event"] == "operator.halt"]
    repeats = sum(n for s in summaries for n in s["repeats"].values())
    assert refused, "the halt refused hedges"
    assert len(refused) <= 2 * len(settings.hedges), [e["reason"] for e in refused]
    assert {e["reason"] for e in refused} <= {f"{u}: trading is HALTED" for u in settings.hedges}
    assert repeats > 20 * len(refused), "repeats are counted, not logged"
    assert 5 <= len(summaries) <= 11, "about one summary per minute of clock time"
    assert len(halts) == 1
