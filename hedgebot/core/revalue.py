"""Revaluation between account reads: the coin equity as it is now, not as it was read.

A coin-margined account's equity (Deribit: cash + option value + futures P&L, in coin) is only
reported with each account read, seconds apart; where collateral counts as delta, a hedge sized
on the last read after a jump is sized on the wrong book. `revalue` carries a snapshot's equity
forward with the current marks of the positions that make it up:

* an inverse option of amount A (coin-quoted mark m, Deribit's convention) is worth A·m coin:
  it moves the equity by A·(m₁ − m₀);
* an inverse perpetual or future of USD face N has P&L N·(1/entry − 1/F) coin: it moves the
  equity by N·(1/F₀ − 1/F₁);
* cash does not move with prices, and linear (USD-settled) positions do not touch coin equity.

`equity_change` is that sum for one currency; a position without a mark then or now adds
nothing (it cannot be revalued, and the valuation itself reports it as unvalued). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from hedgebot.model.account import AccountSnapshot, MarginState
from hedgebot.model.instruments import Instrument, InstrumentKey, Kind
from hedgebot.model.market import Quote


def equity_change(
    snapshot: AccountSnapshot,
    currency: str,
    *,
    instruments: Mapping[InstrumentKey, Instrument],
    read_quotes: Mapping[InstrumentKey, Quote],
    quotes: Mapping[InstrumentKey, Quote],
) -> float:
    """How much `currency`'s coin equity moved from the marks of `read_quotes` to `quotes`."""
    change = 0.0
    for position in snapshot.positions:
        instrument = instruments.get(position.key)
        then, now = read_quotes.get(position.key), quotes.get(position.key)
        if instrument is None or then is None or now is None or not instrument.is_inverse:
            continue
        if instrument.underlying != currency or then.mark_price <= 0 or now.mark_price <= 0:
            continue
        if instrument.kind is Kind.OPTION:
            change += position.amount * (now.mark_price - then.mark_price)
        elif instrument.amount_is_usd:
            change += position.amount * (1 / then.mark_price - 1 / now.mark_price)
    return change


def revalue(
    snapshot: AccountSnapshot,
    *,
    instruments: Mapping[InstrumentKey, Instrument],
    read_quotes: Mapping[InstrumentKey, Quote],
    quotes: Mapping[InstrumentKey, Quote],
) -> AccountSnapshot:
    """`snapshot` with each currency's reported equity carried forward to the marks of `quotes`
    (the positions, cash and margin requirements are left as read)."""
    if not snapshot.margin:
        return snapshot
    margin = tuple(
        replace(
            m,
            equity=m.equity
            + equity_change(
                snapshot,
                m.currency,
                instruments=instruments,
                read_quotes=read_quotes,
                quotes=quotes,
            ),
        )
        for m in snapshot.margin
    )
    return replace(snapshot, margin=margin)


def equity_of(margin: tuple[MarginState, ...], currency: str) -> float | None:
    """The equity reported for `currency`, if any."""
    return next((m.equity for m in margin if m.currency == currency), None)
