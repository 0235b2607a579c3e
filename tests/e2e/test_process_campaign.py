"""The default suite's slice of the process-level restart campaign: one seeded scenario of each
kind that no faster test covers (kill -9 and restart, two started together, a crash while
halted; a second process beside a running one and signal stops are in test_process_exits.py,
damaged journals in tests/daemon/test_journal_state.py). The full campaign, every kind:
``bash scripts/process_campaign.sh``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.process_campaign import Kind, plan, run_scenario

SUBSET = (Kind.KILL_RESTART, Kind.RACE_START, Kind.HALT_CRASH)


@pytest.mark.parametrize(("kind", "seed"), plan(len(SUBSET), seed=7, kinds=SUBSET))
def test_process_scenario_keeps_every_invariant(tmp_path: Path, kind: Kind, seed: int) -> None:
    result = run_scenario(kind, seed, tmp_path)
    assert result.error == ""
    assert result.violations == {}


def test_the_campaign_command_prints_its_table_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``python -m tests.e2e.process_campaign`` (what scripts/process_campaign.sh runs)."""
    from tests.e2e.process_campaign import main

    assert main(["--scenarios", "1", "--seed", "5", "--jobs", "1", "--kinds", "signal_stop"]) == 0
    out = capsys.readouterr().out
    assert "kind" in out.splitlines()[-4]
    assert out.splitlines()[-2].split()[:2] == ["total", "1"]
