"""The process-level restart campaign: `hedgebot run` processes on the built-in simulated
exchange, killed with SIGKILL at random moments, restarted, raced by a second process on the same
state directory, halted by the operator and then crashed, stopped by SIGHUP.

``python -m tests.e2e.process_campaign --scenarios 300 --seed 1 --jobs 2`` (or
``bash scripts/process_campaign.sh``) prints one line per scenario and a table per kind, and
exits 1 on any violation. `tests/e2e/test_process_campaign.py` runs one seeded scenario of each
kind in the default suite.

Invariants, checked from exit statuses and the journal itself (read-only):

* ``lock``: never two processes trading on one state directory: of two started together, or a
  second started beside a running one, exactly one runs and the other exits 69 with one line;
* ``intact``: after every ``kill -9`` the journal passes ``PRAGMA integrity_check`` and the next
  process opens it (no exit 74); a journal damaged on purpose (cut short, bytes overwritten) is
  either still usable or refused with exit 74 and one line, never modified, never a traceback;
* ``kept``: every order and fill journaled before a kill is still journaled, unchanged in
  identity, after the restart (no journaled fact lost), and client ids never repeat;
* ``halted``: after an operator halt and a crash, the restarted process journals no new order
  and reports the restored halt;
* ``exit``: every deliberate stop (SIGTERM, SIGHUP, ``--duration``) exits 0 with
  ``daemon.stopped`` journaled.
"""

from __future__ import annotations

import argparse
import enum
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.process_daemon import (
    ROOT,
    Daemon,
    daemon_env,
    event_count,
    query,
    start,
    wait_until,
)

START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 60.0
SPEED = "20"  # simulated seconds per real second: hedges happen within a second or two
INVARIANTS = ("lock", "intact", "kept", "halted", "exit")


class Kind(enum.StrEnum):
    """What one scenario does to the processes."""

    KILL_RESTART = "kill_restart"
    SECOND_BESIDE = "second_beside"
    RACE_START = "race_start"
    HALT_CRASH = "halt_crash"
    SIGNAL_STOP = "signal_stop"
    CORRUPT_JOURNAL = "corrupt_journal"


@dataclass
class Result:
    """What one scenario found."""

    kind: Kind
    seed: int
    violations: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0

    def violate(self, invariant: str, detail: str) -> None:
        self.violations.setdefault(invariant, []).append(detail)


def _env(state: Path, **extra: str) -> dict[str, str]:
    return daemon_env(state, HEDGEBOT__SIMULATOR__SPEED=SPEED, **extra)


def _started(daemon: Daemon, count: int = 1) -> None:
    wait_until(
        lambda: event_count(daemon.journal, "daemon.started") >= count,
        timeout_s=START_TIMEOUT_S,
        daemon=daemon,
    )


def _facts(journal: Path) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    orders = set(query(journal, "SELECT client_id, underlying, symbol, side, amount FROM orders"))
    fills = set(query(journal, "SELECT venue, trade_id, client_id, amount, price FROM fills"))
    return orders, fills


def _stop(daemon: Daemon, result: Result, signum: int = signal.SIGTERM) -> None:
    daemon.kill(signum)
    status = daemon.wait_exit(STOP_TIMEOUT_S)
    if status != 0:
        result.violate("exit", f"{signal.Signals(signum).name} exited {status}")


def _expect_refused(daemon: Daemon, result: Result, what: str) -> None:
    status = daemon.wait_exit(STOP_TIMEOUT_S)
    lines = [x for x in daemon.stderr().splitlines() if x.startswith("hedgebot: ")]
    if status != 69 or len(lines) != 1 or "already running" not in lines[0]:
        result.violate("lock", f"{what}: exit {status}, {lines[-1:] or 'no line'}")


def _kill_restart(state: Path, rng: random.Random, result: Result) -> None:
    """kill -9 at a random moment (often mid-write), restart, check nothing journaled is lost;
    several times on one journal."""
    for _ in range(rng.randint(1, 3)):
        daemon = start(state, args=("--duration", "600"), env=_env(state))
        _started(daemon, event_count(daemon.journal, "daemon.started") + 1)
        time.sleep(rng.uniform(0.0, 2.0))  # the moment of the crash, not a synchronisation
        daemon.kill(signal.SIGKILL)
        daemon.wait_exit(STOP_TIMEOUT_S)
        check = query(daemon.journal, "PRAGMA integrity_check")[0][0]
        if check != "ok":
            result.violate("intact", f"integrity_check: {check}")
        before = _facts(daemon.journal)
        after_daemon = start(state, args=("--duration", "3"), env=_env(state))
        status = after_daemon.wait_exit(START_TIMEOUT_S)
        if status != 0:
            result.violate("intact" if status == 74 else "exit", f"restart exited {status}")
            return
        after = _facts(daemon.journal)
        for name, old, new in zip(("orders", "fills"), before, after, strict=True):
            lost = old - new
            if lost:
                result.violate("kept", f"{len(lost)} {name} lost, e.g. {sorted(lost)[0]}")
        ids = [r[0] for r in query(daemon.journal, "SELECT client_id FROM orders")]
        if len(ids) != len(set(ids)):
            result.violate("kept", "a client id repeats")


def _second_beside(state: Path, rng: random.Random, result: Result) -> None:
    first = start(state, args=("--duration", "600"), env=_env(state), name="first")
    _started(first)
    time.sleep(rng.uniform(0.0, 1.0))  # a random moment of the first one's life
    second = start(state, args=("--duration", "600"), env=_env(state), name="second")
    _expect_refused(second, result, "second beside a running first")
    if first.process.poll() is not None:
        result.violate("lock", f"the first exited {first.process.returncode}")
        return
    _stop(first, result)


def _race_start(state: Path, rng: random.Random, result: Result) -> None:
    """Two started at the same moment: exactly one runs. Then the winner is killed and a third
    takes over at once (the kernel dropped the lock)."""
    pair = [
        start(state, args=("--duration", "600"), env=_env(state), name=f"racer{i}")
        for i in range(2)
    ]
    wait_until(lambda: any(d.process.poll() is not None for d in pair), timeout_s=START_TIMEOUT_S)
    losers = [d for d in pair if d.process.poll() is not None]
    winners = [d for d in pair if d.process.poll() is None]
    if len(losers) != 1 or len(winners) != 1:
        result.violate("lock", f"{len(winners)} of 2 racers kept running")
        for d in pair:
            d.kill(signal.SIGKILL)
        return
    _expect_refused(losers[0], result, "racer")
    _started(winners[0])
    time.sleep(rng.uniform(0.0, 1.0))
    winners[0].kill(signal.SIGKILL)
    winners[0].wait_exit(STOP_TIMEOUT_S)
    third = start(state, args=("--duration", "2"), env=_env(state), name="third")
    status = third.wait_exit(START_TIMEOUT_S)
    if status != 0:
        result.violate("lock", f"after the winner's kill -9 a new process exited {status}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _halt_crash(state: Path, rng: random.Random, result: Result) -> None:
    """`hedgebot halt`, kill -9, restart: nothing is traded until an operator resumes."""
    port = _free_port()
    token = "campaign-token-" + "".join(rng.choices("abcdef0123456789", k=16))
    env = _env(
        state,
        HEDGEBOT__HTTP__ENABLED="true",
        HEDGEBOT__HTTP__PORT=str(port),
        HEDGEBOT__HTTP__CONTROL_TOKEN=token,
    )
    daemon = start(state, args=("--duration", "600"), env=env)
    _started(daemon)
    time.sleep(rng.uniform(0.0, 1.0))
    halt = subprocess.run(
        [
            sys.executable,
            "-m",
            "hedgebot",
            "halt",
            "--url",
            f"http://127.0.0.1:{port}",
            "--reason",
            "margin call",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if halt.returncode != 0:
        daemon.kill(signal.SIGKILL)
        raise RuntimeError(f"hedgebot halt failed: {halt.stderr.decode()[-300:]}")
    wait_until(lambda: event_count(daemon.journal, "operator.halt") == 1, timeout_s=30)
    time.sleep(rng.uniform(0.0, 0.5))
    daemon.kill(signal.SIGKILL)
    daemon.wait_exit(STOP_TIMEOUT_S)
    orders_at_crash = len(query(daemon.journal, "SELECT client_id FROM orders"))
    env_again = {**env, "HEDGEBOT__HTTP__PORT": str(_free_port())}
    again = start(state, args=("--duration", "3"), env=env_again, name="again")
    status = again.wait_exit(START_TIMEOUT_S)
    if status != 0:
        result.violate("exit", f"restart while halted exited {status}")
    orders_after = len(query(daemon.journal, "SELECT client_id FROM orders"))
    if orders_after != orders_at_crash:
        result.violate("halted", f"{orders_after - orders_at_crash} orders while halted")
    if event_count(daemon.journal, "trading.restored") != 1:
        result.violate("halted", "the restart did not restore the halt")


def _signal_stop(state: Path, rng: random.Random, result: Result) -> None:
    daemon = start(state, args=("--duration", "600"), env=_env(state))
    _started(daemon)
    time.sleep(rng.uniform(0.0, 1.5))
    _stop(daemon, result, rng.choice([signal.SIGHUP, signal.SIGTERM, signal.SIGINT]))
    if event_count(daemon.journal, "daemon.stopped") != 1:
        result.violate("exit", "daemon.stopped not journaled")


def _corrupt_journal(state: Path, rng: random.Random, result: Result) -> None:
    """kill -9, then damage the journal (bytes overwritten or the file cut short): the next
    start either finds it intact and runs, or refuses it with exit 74 and one line, without
    changing a byte of it. Never a traceback, never another status."""
    daemon = start(state, args=("--duration", "600"), env=_env(state))
    _started(daemon)
    time.sleep(rng.uniform(0.0, 1.5))  # the moment of the crash
    daemon.kill(signal.SIGKILL)
    daemon.wait_exit(STOP_TIMEOUT_S)
    for side in ("-wal", "-shm"):  # what a careless copy or a disk loses first
        Path(f"{daemon.journal}{side}").unlink(missing_ok=True)
    data = bytearray(daemon.journal.read_bytes())
    if rng.random() < 0.5:
        data = data[: rng.randrange(0, max(1, len(data)))]
    else:
        start_at = rng.randrange(0, max(1, len(data)))
        for i in range(start_at, min(len(data), start_at + rng.randint(1, 4096))):
            data[i] = rng.randrange(256)
    daemon.journal.write_bytes(bytes(data))
    before = daemon.journal.read_bytes()
    again = start(state, args=("--duration", "2"), env=_env(state), name="again")
    status = again.wait_exit(START_TIMEOUT_S)
    lines = [x for x in again.stderr().splitlines() if x.startswith("hedgebot: ")]
    if "Traceback" in again.stderr():
        result.violate("intact", "a traceback instead of one line")
    if status == 74:
        if len(lines) != 1 or "state unusable" not in lines[0]:
            result.violate("intact", f"exit 74 without its one line: {lines}")
        if daemon.journal.read_bytes() != before:
            result.violate("intact", "a refused journal was modified")
    elif status != 0:
        result.violate("exit", f"a damaged journal gave exit {status}: {lines[-1:]}")


_RUNNERS = {
    Kind.KILL_RESTART: _kill_restart,
    Kind.SECOND_BESIDE: _second_beside,
    Kind.RACE_START: _race_start,
    Kind.HALT_CRASH: _halt_crash,
    Kind.SIGNAL_STOP: _signal_stop,
    Kind.CORRUPT_JOURNAL: _corrupt_journal,
}


def run_scenario(kind: Kind, seed: int, workdir: Path) -> Result:
    """Run one scenario in a fresh state directory under `workdir`."""
    result = Result(kind=kind, seed=seed)
    started = time.monotonic()
    state = workdir / f"{kind.value}-{seed}" / "state"
    try:
        _RUNNERS[kind](state, random.Random(seed), result)
    except (
        AssertionError,
        RuntimeError,
        OSError,
        sqlite3.Error,
        subprocess.SubprocessError,
    ) as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    result.seconds = time.monotonic() - started
    return result


def plan(scenarios: int, seed: int, kinds: Sequence[Kind] = tuple(Kind)) -> list[tuple[Kind, int]]:
    """`scenarios` (kind, seed) pairs, kinds in turn, seeds drawn from the campaign seed."""
    rng = random.Random(seed)
    return [(kinds[i % len(kinds)], rng.randrange(1 << 30)) for i in range(scenarios)]


def table(results: Sequence[Result]) -> str:
    """One row per kind: runs, violations per invariant, harness errors."""
    head = f"{'kind':<15}{'runs':>6}" + "".join(f"{n:>8}" for n in INVARIANTS) + f"{'errors':>8}"
    rows = [head]
    kinds = sorted({r.kind for r in results})
    for kind in [*kinds, None]:
        group = [r for r in results if kind is None or r.kind == kind]
        counts: Counter[str] = Counter()
        for r in group:
            counts.update({k: len(v) for k, v in r.violations.items()})
        name = "total" if kind is None else kind.value
        cells = "".join(f"{counts[n]:>8}" for n in INVARIANTS)
        errors = sum(1 for r in group if r.error)
        rows.append(f"{name:<15}{len(group):>6}{cells}{errors:>8}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.process_campaign")
    parser.add_argument("--scenarios", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--kinds", nargs="+", choices=[k.value for k in Kind], default=None)
    parser.add_argument(
        "--from", dest="first", type=int, default=1, help="resume the plan at scenario N"
    )
    args = parser.parse_args(argv)
    kinds = tuple(Kind(k) for k in args.kinds) if args.kinds else tuple(Kind)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="hb-process-campaign-") as tmp:
        work = Path(tmp)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [
                pool.submit(run_scenario, kind, seed, work)
                for kind, seed in plan(args.scenarios, args.seed, kinds)[args.first - 1 :]
            ]
            results = []
            for future in futures:
                r = future.result()
                results.append(r)
                flag = "ok" if not r.violations and not r.error else "FAIL"
                detail = r.error or "; ".join(f"{k}: {v[0]}" for k, v in r.violations.items())
                print(
                    f"{len(results) + args.first - 1:4d} {r.kind.value:<15} seed={r.seed:<11} "
                    f"{r.seconds:5.1f}s {flag} {detail}",
                    flush=True,
                )
    print(table(results))
    print(f"{len(results)} scenarios in {(time.monotonic() - started) / 60:.1f} min")
    if any(r.violations for r in results):
        return 1
    return 2 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
