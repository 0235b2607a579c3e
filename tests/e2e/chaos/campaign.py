"""Many scenarios, in parallel worker processes, and the table of what they found.

Owns `run_campaign` (each scenario in its own ``python -m tests.e2e.chaos.worker`` process, or
``tests.e2e.chaos.venue_worker`` when the hedge is on another venue, at most
`jobs` at a time, each with its own exchange on an ephemeral port and its own state directory,
killed if it overruns), `summarise` (per fault kind: scenarios run and violations per
invariant) and `table` (that summary as text). Work directories of passing scenarios are
removed unless asked to keep them; failing ones are kept for their logs.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.e2e.chaos.invariants import INVARIANTS
from tests.e2e.chaos.scenarios import Scenario
from tests.e2e.chaos.worker import harness_error

REPO = Path(__file__).resolve().parents[3]
SCENARIO_TIMEOUT_S = 240.0

Progress = Callable[[Mapping[str, Any]], None]


def failed(result: Mapping[str, Any]) -> bool:
    """True when a scenario found a violation or its harness failed."""
    return bool(result.get("harness_error")) or any(result["violations"].values())


def _prepare(scenario: Scenario, workdir: Path) -> tuple[Path, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    spec, out = workdir / "scenario.json", workdir / "result.json"
    spec.write_text(json.dumps(scenario.to_json()))
    return spec, out


def _worker(venue: str) -> list[str]:
    """The worker module (and its venue argument): Deribit's own, or the per-venue one."""
    if venue == "deribit":
        return ["tests.e2e.chaos.worker"]
    return ["tests.e2e.chaos.venue_worker", venue]


async def _run_one(scenario: Scenario, workdir: Path, venue: str) -> dict[str, Any]:
    spec, out = _prepare(scenario, workdir)
    with (workdir / "worker.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *_worker(venue),
            str(spec),
            str(out),
            str(workdir),
            cwd=REPO,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            await asyncio.wait_for(process.wait(), SCENARIO_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            return harness_error(scenario, f"worker overran {SCENARIO_TIMEOUT_S:.0f} s")
    if not out.exists():
        return harness_error(scenario, f"worker exited {process.returncode} without a result")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


async def run_campaign(
    scenarios: Sequence[Scenario],
    *,
    jobs: int,
    workdir: Path,
    keep: bool = False,
    progress: Progress | None = None,
    venue: str = "deribit",
) -> list[dict[str, Any]]:
    """Run every scenario, `jobs` at a time, the hedge on `venue`; results in scenario order."""
    gate = asyncio.Semaphore(jobs)

    async def guarded(scenario: Scenario) -> dict[str, Any]:
        async with gate:
            where = workdir / f"s{scenario.index:04d}"
            result = await _run_one(scenario, where, venue)
            result["workdir"] = str(where)
            if not keep and not failed(result):
                shutil.rmtree(where, ignore_errors=True)
            if progress is not None:
                progress(result)
            return result

    return list(await asyncio.gather(*(guarded(s) for s in scenarios)))


def summarise(results: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, int]]:
    """Per primary fault kind (and ``total``): scenarios, violations per invariant, errors."""
    rows: dict[str, dict[str, int]] = {}
    for result in results:
        for key in (str(result["primary"]), "total"):
            row = rows.setdefault(
                key, {"scenarios": 0, **dict.fromkeys(INVARIANTS, 0), "harness_errors": 0}
            )
            row["scenarios"] += 1
            row["harness_errors"] += int(bool(result.get("harness_error")))
            for name in INVARIANTS:
                row[name] += int(bool(result["violations"].get(name)))
    total = rows.pop("total", None)
    ordered = dict(sorted(rows.items()))
    if total is not None:
        ordered["total"] = total
    return ordered


def table(summary: Mapping[str, Mapping[str, int]]) -> str:
    """The summary as a fixed-width table (violations count scenarios, not occurrences)."""
    columns = ["scenarios", *INVARIANTS, "harness_errors"]
    heads = ["kind", "runs", "I1 dup", "I2 overshoot", "I3 fills", "I4 alive", "I5 band", "errors"]
    widths = [max(14, *(len(k) for k in summary))] + [len(h) for h in heads[1:]]
    lines = [
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(heads, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for kind, row in summary.items():
        cells = [kind.ljust(widths[0])] + [
            str(row[c]).rjust(w) for c, w in zip(columns, widths[1:], strict=True)
        ]
        if kind == "total":
            lines.append("  ".join("-" * w for w in widths))
        lines.append("  ".join(cells))
    return "\n".join(lines)
