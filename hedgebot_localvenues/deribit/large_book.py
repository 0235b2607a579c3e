"""A large option book for the local Deribit exchange: `large_book(now, options=N)`.

Owns the book behind the large-book test and benchmarks: `live_book` (its perpetuals, future,
keys and seeded positions) plus a strip of small long straddles — BTC calls and puts over the
monthly and quarterly expiries, ETH over the monthly — so that the `main` account holds `options`
option positions in all (the live book's own included). Long straddles need no margin to speak of,
and their calls and puts largely cancel in delta. It must not start anything.
"""

from __future__ import annotations

import datetime as dt

from hedgebot_localvenues.deribit.book_config import SeedPosition, SimAccount, SimBook, live_book


def large_book(now: dt.datetime, *, options: int = 1000) -> SimBook:
    """`live_book(now)` plus option positions up to `options` in all (at least 8)."""
    base = live_book(now)
    monthly = next(s for s in base.symbols if s.startswith("BTC-") and s.endswith("-C"))
    quarterly = next(
        s for s in base.symbols if s.startswith("BTC-") and s.count("-") == 1 and "PERP" not in s
    )
    monthly_code, quarterly_code = monthly.split("-")[1], quarterly.split("-")[1]
    main = base.accounts["main"]
    seeded = {p.symbol for p in main.positions}
    per_btc_expiry = max(1, options * 2 // 5 // 2)
    strip = [
        f"BTC-{expiry}-{30_000 + 250 * i}-{kind}"
        for expiry in (monthly_code, quarterly_code)
        for i in range(per_btc_expiry)
        for kind in "CP"
    ]
    eth_strikes = max(1, (options - len(strip)) // 2)
    strip += [
        f"ETH-{monthly_code}-{1_500 + 25 * i}-{kind}" for i in range(eth_strikes) for kind in "CP"
    ]
    added = [
        SeedPosition(symbol=s, amount=0.1 if s.startswith("BTC") else 1.0)
        for s in strip
        if s not in seeded
    ]
    accounts = dict(base.accounts)
    accounts["main"] = SimAccount(
        api_key=main.api_key,
        api_secret=main.api_secret,
        collateral=dict(main.collateral),
        positions=[*main.positions, *added],
    )
    symbols = list(dict.fromkeys([*base.symbols, *strip]))
    return SimBook(start=base.start, symbols=symbols, accounts=accounts)
