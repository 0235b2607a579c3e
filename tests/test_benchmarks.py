"""Every benchmark the README quotes runs by its documented command, here in a tiny configuration,
and prints the table the README's figures come from (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _rows(output: str) -> list[list[str]]:
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in output.splitlines()
        if line.startswith("|") and not line.startswith("|-")
    ]


def test_decision_benchmark_times_turns_of_a_book_of_distinct_instruments() -> None:
    """Both figures are printed for the requested size, from the requested number of turns."""
    rows = _rows(_run("benchmarks/bench_decision.py", "--sizes", "36", "--turns", "4"))
    by_name = {row[1]: row for row in rows[1:]}
    whole = by_name["whole turn (risk, decisions, sends, venue's own work)"]
    assert whole[0] == "36"
    assert whole[2] == "4"
    assert float(whole[3]) > 0
    assert "market event to order handed to the venue" in by_name


def test_live_benchmark_starts_a_book_on_the_local_exchange_and_streams_it() -> None:
    """Start-up, quotes, ingestion and peak RSS of a small book, against the local exchange."""
    rows = {
        row[0]: row[1]
        for row in _rows(_run("benchmarks/bench_live.py", "--options", "12", "--seconds", "1"))
    }
    assert float(rows["start-up to ready (s)"]) > 0
    assert int(rows["options quoted at ready"]) >= 12
    assert float(rows["ingestion (msgs/s delivered)"].replace(",", "")) > 0
    assert float(rows["peak RSS (MB)"]) > 50


def test_greeks_benchmark_prints_a_time_per_option_for_each_size() -> None:
    """The Greeks benchmark prints a positive time per option for 1,000 to 1,000,000 options."""
    rows = _rows(_run("benchmarks/bench_greeks.py", "--repeats", "1"))[1:]
    assert [row[0] for row in rows] == ["1,000", "10,000", "100,000", "1,000,000"]
    assert all(float(row[1]) > 0 for row in rows)


def test_paper_benchmark_prints_the_cost_of_a_quote_per_book_size() -> None:
    """The paper-mode benchmark prints a positive cost per quote for each book size asked."""
    rows = _rows(_run("benchmarks/bench_paper.py", "--sizes", "10,40", "--quotes", "200"))[1:]
    assert [row[0] for row in rows] == ["10", "40"]
    assert all(float(row[1]) > 0 for row in rows)
