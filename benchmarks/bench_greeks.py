"""Benchmark of `hedgebot.core.greeks.black76`: nanoseconds per option for books of 1e3 to 1e6
options.

Run `python benchmarks/bench_greeks.py`; it prints a markdown table. Each size is timed with
`time.perf_counter` over several repeats (median reported, best alongside), on a random book shaped
like a Deribit chain: forwards near 50,000, log-strikes spread ±30 % around the forward, expiries
from one day to a year, volatilities 40-120 %, calls and puts mixed. The book is different from
one repeat to the next so the CPU's branch predictor cannot learn `ndtr`'s branches.
It measures only; it must not be imported by hedgebot.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

try:
    from hedgebot.core.greeks import black76
except ModuleNotFoundError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from hedgebot.core.greeks import black76

SIZES = (1_000, 10_000, 100_000, 1_000_000)
NS_PER_S = 1e9


@dataclass(frozen=True, slots=True, kw_only=True)
class Book:
    """Inputs of one random option book."""

    forward: NDArray[np.float64]
    strike: NDArray[np.float64]
    tau: NDArray[np.float64]
    sigma: NDArray[np.float64]
    is_call: NDArray[np.bool_]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """Nanoseconds per option over the repeats of one book size."""

    size: int
    median_ns: float
    best_ns: float
    repeats: int


def random_book(rng: np.random.Generator, size: int) -> Book:
    """A Deribit-like book of `size` options."""
    forward = rng.uniform(40_000.0, 60_000.0, size)
    return Book(
        forward=forward,
        strike=forward * np.exp(rng.normal(0.0, 0.3, size)),
        tau=rng.uniform(1.0 / 365.0, 1.0, size),
        sigma=rng.uniform(0.4, 1.2, size),
        is_call=rng.random(size) < 0.5,
    )


def time_size(rng: np.random.Generator, size: int, repeats: int) -> Timing:
    """Time the full black76 call (price, delta, gamma, vega, theta) on fresh books."""
    books = [random_book(rng, size) for _ in range(min(repeats, 8))]
    black76(books[0].forward, books[0].strike, books[0].tau, books[0].sigma, books[0].is_call)
    per_option = []
    for repeat in range(repeats):
        book = books[repeat % len(books)]
        start = time.perf_counter()
        black76(book.forward, book.strike, book.tau, book.sigma, book.is_call)
        per_option.append((time.perf_counter() - start) * NS_PER_S / size)
    return Timing(
        size=size,
        median_ns=statistics.median(per_option),
        best_ns=min(per_option),
        repeats=repeats,
    )


def markdown(timings: list[Timing]) -> str:
    """The timings as a markdown table."""
    lines = [
        "| options | ns per option (median) | ns per option (best) | repeats |",
        "|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t.size:,} | {t.median_ns:.1f} | {t.best_ns:.1f} | {t.repeats} |" for t in timings
    ]
    return "\n".join(lines)


def main() -> None:
    """Parse arguments, time every size, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=0, help="repeats per size (0: automatic)")
    parser.add_argument("--seed", type=int, default=20210211)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    timings = [
        time_size(rng, size, args.repeats or max(7, min(200, 2_000_000 // size))) for size in SIZES
    ]
    print(markdown(timings))


if __name__ == "__main__":
    main()
