"""The three exactly-once failures of issue 8, reproduced on the local exchange and judged by the
strict invariants: the real daemon, live through unmodified ccxt.

1. One need hedged twice at a plain start: the exchange spaces the requests of one account read
   (positions, then the account summaries much later), so the first hedge fills between them.
2. Hedged twice after ``kill -9`` within a create and a restart, on the same spaced reads.
3. A resting hedge whose cancel confirmation is lost, private streams stalled by two error
   frames: the instrument must not stay blocked; the account is back in its band.

Each runs as one scenario of the fault campaign (`tests.e2e.chaos`), two at a time. The books
need less than two max orders, so a hedge sent twice is larger than what the venue still needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.chaos.campaign import run_campaign
from tests.e2e.chaos.scenarios import Fault, FaultKind, Scenario

K = FaultKind
SPACED_READS = Fault(
    kind=K.READ_SPACING,
    params={
        "private/get_positions": 0,
        "private/get_account_summaries": 1500,
        "private/get_account_summary": 1500,
    },
)

PLAIN_START = Scenario(
    index=81,
    seed=8001,
    faults=(SPACED_READS,),
    trigger_orders=0,
    trigger_delay_s=0.0,
    window_s=8.0,
    book_scale=0.45,
)
KILL_IN_CREATE = Scenario(
    index=82,
    seed=8002,
    faults=(Fault(kind=K.KILL_AT_CREATE, params={"kills": 1, "down_s": 0.0}), SPACED_READS),
    trigger_orders=0,
    trigger_delay_s=0.0,
    window_s=8.0,
    book_scale=-0.45,
)
LOST_CANCEL = Scenario(
    index=83,
    seed=8003,
    faults=(Fault(kind=K.LOST_CANCEL, params={"count": 1, "error_frames": 2}),),
    trigger_orders=1,
    trigger_delay_s=0.0,
    window_s=2.0,
    book_scale=1.2,
)
ISSUE_FAILURES = (PLAIN_START, KILL_IN_CREATE, LOST_CANCEL)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Mapping[str, Any]]:
    """The three scenarios, run once, two at a time."""
    workdir: Path = tmp_path_factory.mktemp("exactly-once")
    done = asyncio.run(run_campaign(ISSUE_FAILURES, jobs=2, workdir=workdir))
    return {str(r["name"]): r for r in done}


def _broken(result: Mapping[str, Any]) -> dict[str, list[str]]:
    assert not result.get("harness_error"), result.get("harness_error")
    return {name: found for name, found in result["violations"].items() if found}


def test_a_fill_between_the_reads_of_one_snapshot_is_not_hedged_again(
    results: dict[str, Mapping[str, Any]],
) -> None:
    """Failure 1: every order is at most what the venue's own figures still needed when its
    create arrived (plus a lot), and no trade carries the account through its band."""
    result = results[PLAIN_START.name]
    assert _broken(result) == {}, f"logs in {result.get('workdir')}"
    assert result["metrics"]["creates"] >= 2, "both currencies were hedged"


def test_a_kill_within_a_create_does_not_hedge_the_need_twice(
    results: dict[str, Mapping[str, Any]],
) -> None:
    """Failure 2: killed while the exchange executed a create, restarted at once: the order it
    left is adopted, and nothing the restarted daemon sends exceeds the venue's need."""
    result = results[KILL_IN_CREATE.name]
    assert _broken(result) == {}, f"logs in {result.get('workdir')}"
    assert result["metrics"]["restarts"] == 1
    assert "within its create" in str(result["metrics"]["window"]["kills"])


def test_a_lost_cancel_confirmation_does_not_block_the_instrument(
    results: dict[str, Mapping[str, Any]],
) -> None:
    """Failure 3: the resting hedge is cancelled, the confirmation never arrives, the private
    streams are stalled: hedgebot looks the order up over REST, learns it is cancelled and hedges
    again, so the account is back in its band (it stayed blocked until shutdown before)."""
    result = results[LOST_CANCEL.name]
    assert _broken(result) == {}, f"logs in {result.get('workdir')}"
    assert result["metrics"]["window"]["unconsumed"]["lost_cancel_confirmations"] == 0
    assert result["metrics"]["events"].get("order.unresolved", 0) == 0
