"""``python -m tests.e2e.chaos --scenarios 200 --seed 1 [--venue deribit] [--kinds ...] [--jobs 2]
[--json PATH]``: run the fault campaign with the hedge on `--venue` (deribit: options and hedge on
the local Deribit exchange; binanceusdm, bybit, okx: options on the local Deribit exchange, the
hedge perpetual on that venue's local exchange, drawing from `venue_rig.VENUE_KINDS`), print one
line per scenario and the table per fault kind, write every
result as JSON (and, while running, each finished scenario as a line of
``PATH.partial.jsonl``), and exit 1 if any scenario found a violation (2 if only the harness
failed)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.e2e.chaos.campaign import failed, run_campaign, summarise, table
from tests.e2e.chaos.scenarios import ALL_KINDS, FaultKind, generate
from tests.e2e.chaos.venue_rig import CAMPAIGN_VENUES, VENUE_KINDS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.chaos", description=__doc__)
    parser.add_argument("--scenarios", type=int, default=200, help="how many (default 200)")
    parser.add_argument("--seed", type=int, default=1, help="campaign seed (default 1)")
    parser.add_argument(
        "--venue",
        choices=CAMPAIGN_VENUES,
        default="deribit",
        help="where the hedge perpetual is (default deribit)",
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=[k.value for k in FaultKind],
        default=None,
        help="fault kinds to draw from (default: all the venue supports)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="scenarios in parallel (default 2)")
    parser.add_argument("--json", type=Path, default=Path("chaos-results.json"), help="results")
    parser.add_argument("--workdir", type=Path, default=None, help="scenario work directories")
    parser.add_argument("--keep", action="store_true", help="keep passing scenarios' directories")
    return parser


def _line(result: Mapping[str, Any]) -> None:
    broken = [name for name, found in result["violations"].items() if found]
    verdict = "ok" if not failed(result) else "FAIL " + ",".join(broken)
    if result.get("harness_error"):
        verdict = "HARNESS ERROR " + str(result["harness_error"]).strip().splitlines()[-1]
    seconds = result.get("metrics", {}).get("duration_s", "?")
    print(f"{result['name']:<40} {seconds:>6}s  {verdict}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the campaign; exit status 0 only when every invariant held everywhere."""
    parser = _parser()
    args = parser.parse_args(argv)
    supported = ALL_KINDS if args.venue == "deribit" else VENUE_KINDS
    kinds = [FaultKind(k) for k in args.kinds] if args.kinds else list(supported)
    unsupported = [k.value for k in kinds if k not in supported]
    if unsupported:
        parser.error(f"--venue {args.venue} does not support {', '.join(unsupported)}")
    scenarios = generate(args.scenarios, args.seed, kinds)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hedgebot-chaos-"))
    print(
        f"{len(scenarios)} scenarios, hedge on {args.venue}, {len(kinds)} kinds, "
        f"seed {args.seed}, {args.jobs} jobs, work in {workdir}"
    )
    started = time.monotonic()
    partial = args.json.with_suffix(".partial.jsonl")
    with partial.open("w") as stream:

        def progress(result: Mapping[str, Any]) -> None:
            _line(result)
            stream.write(json.dumps(result) + "\n")
            stream.flush()

        results = asyncio.run(
            run_campaign(
                scenarios,
                jobs=args.jobs,
                workdir=workdir,
                keep=args.keep,
                progress=progress,
                venue=args.venue,
            )
        )
    summary = summarise(results)
    minutes = (time.monotonic() - started) / 60
    print(
        f"\n{table(summary)}\n\n{len(results)} scenarios, hedge on {args.venue}, "
        f"in {minutes:.1f} min"
    )
    record = {"venue": args.venue, "seed": args.seed, "summary": summary, "results": results}
    args.json.write_text(json.dumps(record, indent=1) + "\n")
    print(f"results: {args.json}")
    total = summary.get("total", {})
    if any(total.get(name, 0) for name in total if name.startswith("I")):
        return 1
    return 2 if total.get("harness_errors") else 0


if __name__ == "__main__":
    sys.exit(main())
