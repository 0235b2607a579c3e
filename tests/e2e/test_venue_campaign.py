"""The fault campaign per hedge venue, as the README shows it (``bash scripts/campaign.sh --venue
okx``, which runs ``python -m tests.e2e.chaos --venue okx``): a quick run of two seeded scenarios
with the hedge on the local OKX exchange prints the per-kind table and exits 0 only because no
invariant was violated; a fault kind the venue's local exchange cannot produce is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.e2e.chaos.venue_rig import VENUE_KINDS

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 400.0


def _campaign(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.e2e.chaos", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def test_a_quick_campaign_on_okx_reports_zero_violations_per_kind(tmp_path: Path) -> None:
    """Two scenarios on OKX: a reject burst (the daemon in-process, halted after the rejects and
    resumed by the operator) and a kill -9 from inside the venue's execution of a create, then a
    restart (the daemon as its own process). Both end in band with every hedge once."""
    out = tmp_path / "okx.json"
    done = _campaign(
        "--venue",
        "okx",
        "--scenarios",
        "2",
        "--seed",
        "1",
        "--jobs",
        "2",
        "--kinds",
        "reject",
        "kill_at_create",
        "--json",
        str(out),
        "--workdir",
        str(tmp_path / "work"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 scenarios, hedge on okx" in done.stdout
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines() if line}
    assert rows["reject"][:6] == ["1", "0", "0", "0", "0", "0"]
    assert rows["kill_at_create"][:6] == ["1", "0", "0", "0", "0", "0"]
    record = json.loads(out.read_text())
    assert record["venue"] == "okx"
    by_kind = {r["primary"]: r for r in record["results"]}
    assert by_kind["kill_at_create"]["metrics"]["restarts"] >= 1, "the daemon was killed"
    assert all(r["metrics"]["trades"] >= 1 for r in record["results"]), "the hedge was placed"


def test_a_kind_the_venue_cannot_produce_is_refused(tmp_path: Path) -> None:
    """Partial fills need a thin book, which the local OKX exchange does not have: the command
    says so and runs nothing."""
    assert "partial" not in {k.value for k in VENUE_KINDS}
    done = _campaign("--venue", "okx", "--kinds", "partial", "--json", str(tmp_path / "r.json"))
    assert done.returncode == 2
    assert "--venue okx does not support partial" in done.stderr
    assert not (tmp_path / "r.json").exists()
