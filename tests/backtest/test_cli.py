"""Every ``hedgebot backtest`` and benchmark command that docs/backtest.md and README.md show,
run as a user runs it (a fresh folder holding the repo's config/ and tests/data/), and what the
user would check in its output: the table, the files, the calibrated config lines."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from hedgebot.config import HedgeSettings

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = "hedgebot backtest"
REPLAY = (
    "hedgebot backtest --candles tests/data/price_history/ftx_btc-perp_1m_2021-12-31_2022-02-01"
    ".csv.gz --chain tests/data/deribit/options_chain_2021-02-11/btc_option_data.csv "
    "--step-minutes 1 --out backtest-out/ftx"
)
CALIBRATE = (
    "hedgebot backtest --paths 300 --step-minutes 60 --calibrate --max-std 6000 "
    "--out backtest-out/calibrate"
)
ETH = (
    "hedgebot backtest --underlying ETH --paths 300 --step-minutes 60 --fee-bps 2 "
    "--half-spread-bps 0.5 --out backtest-out/eth"
)
BASIS = "hedgebot backtest --basis tests/data/deribit/perpetual_prices_2025-12-30_2026-04-15.csv"
BENCH = "python benchmarks/bench_backtest.py"
DOC_COMMANDS = {DEFAULT, REPLAY, CALIBRATE, ETH, BASIS}
"""The ```sh commands of docs/backtest.md and README.md (tests/test_docs_commands.py runs them
too; here their output is checked). The benchmark is shown inline and run by the slow test."""
POLICIES = ("none", "clock 15m", "clock 60m", "clock 240m", "configured", "percent 5% edge")


def _shown_commands(text: str) -> set[str]:
    """Command lines of the ```sh blocks that run the backtest or its benchmark (there is none:
    it is shown inline)."""
    found = set()
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        joined = block.replace("\\\n", " ")
        for raw in joined.splitlines():
            line = " ".join(raw.split())
            if line.startswith(("hedgebot backtest", "python benchmarks/bench_backtest")):
                found.add(line)
    return found


def test_the_docs_show_exactly_the_commands_tested_here() -> None:
    shown = _shown_commands((ROOT / "docs" / "backtest.md").read_text())
    shown |= _shown_commands((ROOT / "README.md").read_text())
    assert shown == DOC_COMMANDS


def _run(command: str, folder: Path) -> str:
    for name in ("config", "tests"):
        if not (folder / name).exists():
            (folder / name).symlink_to(ROOT / name)
    args = command.split()
    argv = [sys.executable, "-m", "hedgebot", *args[1:]]
    done = subprocess.run(
        argv, cwd=folder, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as handle:
        return {row["policy"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """`hedgebot backtest` run once for this module: (stdout, folder it ran in)."""
    folder = tmp_path_factory.mktemp("default")
    return _run(DEFAULT, folder), folder


@pytest.fixture(scope="module")
def replay_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The FTX replay run once for this module: (stdout, folder it ran in)."""
    folder = tmp_path_factory.mktemp("replay")
    return _run(REPLAY, folder), folder


def test_default_backtest_prints_the_frontier_and_writes_the_plot(
    default_run: tuple[str, Path],
) -> None:
    out, tmp_path = default_run
    assert out.startswith("BTC: monte carlo, 1000 paths, seed 7; 25.3 days")
    for policy in POLICIES:
        assert re.search(rf"^{re.escape(policy)}\s+-?\d", out, flags=re.M), policy
    folder = tmp_path / "backtest-out"
    assert (folder / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = _rows(folder / "frontier.csv")
    assert float(rows["none"]["trades"]) == 0.0
    assert float(rows["none"]["effectiveness"]) == 0.0
    # hedging removes most of the variance of the default book, and the band trades less
    # often than rebalancing every 15 minutes
    assert float(rows["configured"]["effectiveness"]) > 0.9
    assert float(rows["configured"]["trades"]) < float(rows["clock 15m"]["trades"])
    document = json.loads((folder / "frontier.json").read_text())
    assert document["paths"] == 1000
    assert len(document["policies"]) == len(rows)
    fees = sum(float(r["fees"]) for r in rows.values())
    assert fees > 0


def test_replay_of_the_ftx_month_gives_a_distribution_of_days(
    replay_run: tuple[str, Path],
) -> None:
    out, tmp_path = replay_run
    assert "31 windows of 1 days" in out
    rows = _rows(tmp_path / "backtest-out" / "ftx" / "frontier.csv")
    assert float(rows["none"]["std"]) > 5 * float(rows["configured"]["std"])
    assert float(rows["clock 15m"]["trades"]) == pytest.approx(
        96, abs=3
    )  # every 15 minutes of a day
    document = json.loads((tmp_path / "backtest-out" / "ftx" / "frontier.json").read_text())
    assert document["steps"] == 1440
    assert document["step_minutes"] == 1.0


def test_calibration_prints_config_lines_that_meet_the_budget(tmp_path: Path) -> None:
    out = _run(CALIBRATE, tmp_path)
    match = re.search(r"paste into \[hedges\.BTC\]:\n(band = .*\nrebalance_to = .*)\n", out)
    assert match, out
    pasted = tomllib.loads(match[1])
    base = tomllib.loads((ROOT / "config" / "hedgebot.toml").read_text())["hedges"]["BTC"]
    settings = HedgeSettings.model_validate({**base, **pasted})
    assert settings.band.kind == "whalley_wilmott"
    rows = _rows(tmp_path / "backtest-out" / "calibrate" / "frontier.csv")
    chosen = re.search(r"calibration: (.+?) meets", out)
    assert chosen
    assert float(rows[chosen[1]]["std"]) <= 6000
    cheaper = [
        r
        for r in rows.values()
        if r["policy"].startswith("ww") and float(r["cost"]) < float(rows[chosen[1]]["cost"])
    ]
    assert all(float(r["std"]) > 6000 for r in cheaper)


def test_eth_book_with_its_percent_band(tmp_path: Path) -> None:
    out = _run(ETH, tmp_path)
    assert out.startswith("ETH: monte carlo, 300 paths")
    assert "costs 2.5 bp one way" in out
    rows = _rows(tmp_path / "backtest-out" / "eth" / "frontier.csv")
    assert float(rows["configured"]["effectiveness"]) > 0.5


def test_basis_report_of_eth_hedged_with_btc(tmp_path: Path) -> None:
    out = _run(BASIS, tmp_path)
    assert out.startswith("basis risk from perpetual_prices_2025-12-30_2026-04-15.csv: 419")
    lines = {
        line[:16].split()[0] + "/" + line[:16].split()[1]: line for line in out.splitlines()[2:]
    }
    assert set(lines) == {"BTC/ETH", "ETH/BTC"}
    docs = (ROOT / "docs" / "backtest.md").read_text()
    assert out.strip() in docs  # the docs show this very output


def test_guards_run_on_the_event_engine(tmp_path: Path) -> None:
    out = _run(
        "hedgebot backtest --guards --paths 20 --step-minutes 60 --out backtest-out/guards",
        tmp_path,
    )
    assert "configured" in out
    rows = _rows(tmp_path / "backtest-out" / "guards" / "frontier.csv")
    assert {r["engine"] for r in rows.values()} == {"event"}
    assert all(float(r["guard_vetoes"]) >= 0 for r in rows.values())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--calibrate"], "--calibrate needs --max-std or --max-var95"),
        (["--paths", "0"], "paths, days and step_minutes must be positive"),
        (["--candles", "nowhere.csv"], "cannot read recorded data"),
        (["--underlying", "DOGE"], "no hedge configured for DOGE"),
        (["--guards", "--engine", "vectorised"], "--guards runs on the event engine"),
    ],
)
def test_bad_requests_exit_78_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    for name in ("config", "tests"):
        (tmp_path / name).symlink_to(ROOT / name)
    done = subprocess.run(
        [sys.executable, "-m", "hedgebot", "backtest", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 78
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_benchmark_runs_small() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "bench_backtest.py"),
            "--paths",
            "20",
            "--repeat",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| 6 policies × 20 paths × 30 days" in done.stdout
    assert "345,600" in done.stdout  # 6 policies × 20 paths × 2,880 steps


@pytest.mark.slow
def test_benchmark_as_documented() -> None:
    done = subprocess.run(
        BENCH.replace("python", sys.executable, 1).split(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "17,280,000" in done.stdout


def _table(text: str) -> list[str]:
    """The frontier table lines (header and policies) of a command's output or a docs block."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("policy "))
    end = start + 1
    while end < len(lines) and re.match(r"^\S.*\d%$", lines[end]):
        end += 1
    return lines[start:end]


def test_the_tables_in_the_docs_are_what_the_commands_print(
    default_run: tuple[str, Path], replay_run: tuple[str, Path]
) -> None:
    """docs/backtest.md shows the default and the FTX tables exactly as the commands print them
    (seeded paths, pinned numpy): rerun both and compare, line for line."""
    docs = (ROOT / "docs" / "backtest.md").read_text()
    blocks = re.findall(r"```\n(policy .*?)```", docs, flags=re.S)
    assert len(blocks) == 2
    assert [len(_table(b)) for b in blocks] == [16, 16]  # header and 15 policies
    assert _table(default_run[0]) == _table(blocks[0])
    assert _table(replay_run[0]) == _table(blocks[1])
