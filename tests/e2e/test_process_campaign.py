"""The default suite's slice of the process-level restart campaign: one seeded scenario of each
kind (kill -9 and restart, a second process beside a running one, two started together, a crash
while halted, a signal stop). The full campaign: ``bash scripts/process_campaign.sh``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.process_campaign import Kind, plan, run_scenario


@pytest.mark.parametrize(("kind", "seed"), plan(len(Kind), seed=7))
def test_process_scenario_keeps_every_invariant(tmp_path: Path, kind: Kind, seed: int) -> None:
    result = run_scenario(kind, seed, tmp_path)
    assert result.error == ""
    assert result.violations == {}
