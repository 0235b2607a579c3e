"""Test harness: runs the real daemon (composition root and all) on the built-in simulated
exchange under simulated time, watching every turn."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hedgebot.app import Runtime
from hedgebot.config import Settings, load_settings
from hedgebot.core.run_stats import RunSummary
from hedgebot.daemon.engine import TurnObserver
from hedgebot.model.view import TurnView

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "hedgebot.toml"


@dataclass
class TurnRecorder:
    """Remembers what every turn showed, and which orders were live at that moment."""

    runtime: Runtime | None = None
    views: list[TurnView] = field(default_factory=list)
    max_live_per_instrument: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def on_turn(self, view: TurnView) -> None:
        """Record the view and the live orders per instrument."""
        self.views.append(view)
        assert self.runtime is not None
        live: dict[str, int] = defaultdict(int)
        for order in self.runtime.executor.live_orders():
            if order.state.is_live:
                live[str(order.request.key)] += 1
        for key, count in live.items():
            self.max_live_per_instrument[key] = max(self.max_live_per_instrument[key], count)


def settings_for(state_dir: Path, **overrides: str) -> Settings:
    """The default config, as fast as possible, journaling into `state_dir`."""
    environ = {
        "HEDGEBOT__SIMULATOR__SPEED": "0",
        "HEDGEBOT__STATE_DIR": str(state_dir),
        **{f"HEDGEBOT__{k.upper()}": v for k, v in overrides.items()},
    }
    return load_settings(DEFAULT_CONFIG, environ=environ)


async def run_for(
    settings: Settings, *, seconds: float, recorder: TurnRecorder | None = None
) -> tuple[RunSummary, Runtime]:
    """Run the daemon for `seconds` of simulated time."""
    observers: list[TurnObserver] = [recorder] if recorder is not None else []
    runtime = Runtime(settings, live=False, observers=observers)
    if recorder is not None:
        recorder.runtime = runtime
    stop_at = runtime.clock.now_ms() + int(seconds * 1000)
    summary = await runtime.run(asyncio.Event(), stop_at_ms=stop_at)
    return summary, runtime


def episodes_outside(views: list[TurnView], underlying: str) -> list[tuple[int, int]]:
    """(start_ms, end_ms) of each stretch of turns whose carried delta was outside the band."""
    spans: list[tuple[int, int]] = []
    start: int | None = None
    for view in views:
        row = view.underlyings[underlying]
        if row.outside_band and start is None:
            start = view.now_ms
        elif not row.outside_band and start is not None:
            spans.append((start, view.now_ms))
            start = None
    if start is not None:
        spans.append((start, views[-1].now_ms))
    return spans


def signed_fills(journal_rows: list[tuple[str, str, float]]) -> Mapping[str, float]:
    """Sum of signed fill amounts per symbol from (symbol, side, amount) rows."""
    totals: dict[str, float] = defaultdict(float)
    for symbol, side, amount in journal_rows:
        totals[symbol] += amount if side == "buy" else -amount
    return totals
