"""Paper mode's per-quote work: what one ticker costs once the feed has parsed it, for books of
100, 1,000 and 10,000 held options (it must not grow with the book).

Each quote goes where paper mode sends it: the daemon's `BookState` (stored on its
`QuoteBoard`) and the `PaperExchange` (expiry and funding checks, order activation and matching,
events to the paper brokers). Quotes cycle over the book's options on a wall clock; no order is
resting, so this is the cost of a quote that fills nothing.

Run: ``python benchmarks/bench_paper.py [--sizes 100,1000,10000] [--quotes N]``; prints a
markdown table.
"""

from __future__ import annotations

import argparse
import time

from hedgebot.clock import WallClock
from hedgebot.daemon.state import BookState
from hedgebot.model.market import Quote
from hedgebot.venues.sim import AccountSeed, PaperExchange, sim_instrument

EXPIRIES = ("26MAR27", "30APR27", "28MAY27", "25JUN27", "24SEP27", "31DEC27")


def book_symbols(count: int) -> list[str]:
    """`count` distinct BTC options (6 expiries, calls and puts, integer strikes)."""
    per_series = -(-count // (len(EXPIRIES) * 2))
    symbols = [
        f"BTC-{expiry}-{30_000 + 10 * i}-{kind}"
        for expiry in EXPIRIES
        for kind in "CP"
        for i in range(per_series)
    ]
    return symbols[:count]


def measure(count: int, quotes: int) -> float:
    """Microseconds per quote through the state and the paper exchange."""
    clock = WallClock()
    symbols = book_symbols(count)
    instruments = [sim_instrument("deribit", s) for s in ["BTC-PERPETUAL", *symbols]]
    seed = AccountSeed(collateral={"BTC": 1_000.0}, positions=[(s, 0.1, 0.01) for s in symbols])
    paper = PaperExchange(
        venue="deribit", clock=clock, instruments=instruments, accounts={"main": seed}
    )
    state = BookState(clock=clock)
    now = clock.now_ms()
    prepared = [
        Quote(
            key=i.key,
            timestamp_ms=now,
            bid=0.0099,
            ask=0.0101,
            mark_price=0.01,
            underlying_price=60_000.0,
            mark_iv=0.6 if i.strike else None,
        )
        for i in instruments
    ]
    started = time.perf_counter()
    for n in range(quotes):
        quote = prepared[n % len(prepared)]
        state.on_quote(quote)
        paper.on_quote(quote)
    return (time.perf_counter() - started) / quotes * 1e6


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--quotes", type=int, default=50_000)
    args = parser.parse_args()
    print(f"paper mode, {args.quotes:,} quotes per book")
    print("| options held | µs per quote | quotes/s per core |")
    print("|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        micros = measure(size, args.quotes)
        print(f"| {size:,} | {micros:.1f} | {1e6 / micros:,.0f} |")


if __name__ == "__main__":
    main()
