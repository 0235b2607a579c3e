"""The hedge-exactly-once invariants, checked strictly over what the exchange and journal say.

Owns `Evidence` and `check`, which returns every violation by invariant:

* ``I1_no_duplicate``: every label the exchange saw on private/buy|sell is unique; at most one
  exchange order per label; every label sent is an intent in the journal; never two of our
  orders open at once on one instrument (the executor keeps one in flight per instrument);
* ``I2_no_overshoot``, strict, in two parts: (a) no order is larger than what the venue's own
  figures said the account still needed when its create arrived (``−(equity + delta_total)``
  of its currency, recorded by the exchange at that instant), plus rounding to one lot and
  `PRICE_SLACK` of the band for marks moving between decision and arrival; (b) no trade carries
  the account through the far side of its band: whenever the perpetual position changed, the
  account is not left beyond ``band × BAND_TOLERANCE`` on the side the trade pushed it (the
  tolerance covers the market moving between two samples, 0.2 s apart);
* ``I3_fills_once``: the exchange's trades of ours and the journal's fills are the same trade
  ids, each fill under its order's label with the same amount, and each order's journaled
  filled amount is the exchange's;
* ``I4_alive``: the daemon never died on its own and stopped cleanly (problems reported by the
  driver);
* ``I5_band``: after the faults stopped, Deribit's equity + delta_total of every currency came
  back within 1.5 bands in bounded time (reported by the driver).

A hedge sent twice for one need fails (a): the second order finds the venue's need already
met. Everything here is pure.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from tests.e2e.chaos.probes import Create, JournalView, Sample, VenueOrder, VenueTrade
from tests.e2e.chaos.rig import LIMITS

INVARIANTS = ("I1_no_duplicate", "I2_no_overshoot", "I3_fills_once", "I4_alive", "I5_band")
BAND_TOLERANCE = 1.5
"""The account counts as back in band within this many half-widths (prices move meanwhile)."""
PRICE_SLACK = 0.1
"""Share of the band an order may exceed the venue's need by, besides one lot: the venue's need
is figured when the create arrives, the daemon's when it decided, on marks a few ms older."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Everything one scenario left behind."""

    creates: Sequence[Create]
    orders: Sequence[VenueOrder]
    trades: Sequence[VenueTrade]
    journal: JournalView
    samples: Sequence[Sample]
    liveness_problems: Sequence[str] = field(default_factory=tuple)
    band_problems: Sequence[str] = field(default_factory=tuple)


def check(evidence: Evidence) -> dict[str, list[str]]:
    """Violations per invariant (every invariant present, empty lists when it held)."""
    return {
        "I1_no_duplicate": no_duplicate(evidence),
        "I2_no_overshoot": sized_to_need(evidence.orders) + no_overshoot(evidence.samples),
        "I3_fills_once": fills_once(evidence),
        "I4_alive": list(evidence.liveness_problems),
        "I5_band": list(evidence.band_problems),
    }


def no_duplicate(evidence: Evidence) -> list[str]:
    """I1: one create per label, one order per label, labels journaled, one live per instrument."""
    problems = []
    sent = Counter(c.label for c in evidence.creates)
    problems += [f"label {label} sent {n} times" for label, n in sent.items() if n > 1]
    per_label = Counter(o.label for o in evidence.orders)
    problems += [f"label {label} has {n} orders" for label, n in per_label.items() if n > 1]
    unjournaled = sorted(set(sent) - set(evidence.journal.orders))
    problems += [f"label {label} sent but never journaled" for label in unjournaled]
    problems += _overlapping(evidence.orders)
    return problems


def _overlapping(orders: Sequence[VenueOrder]) -> list[str]:
    problems = []
    by_symbol: dict[str, list[VenueOrder]] = {}
    for order in sorted(orders, key=lambda o: (o.created_ms, o.order_id)):
        by_symbol.setdefault(order.symbol, []).append(order)
    for symbol, mine in by_symbol.items():
        for earlier, later in itertools.pairwise(mine):
            ended = math.inf if earlier.is_open else earlier.updated_ms
            if later.created_ms < ended:
                problems.append(
                    f"{symbol}: {later.label} created while {earlier.label} was still open"
                )
    return problems


def _pushes_past(samples: Sequence[Sample], limit_of: dict[str, float]) -> list[str]:
    """Trades (perp changes between samples) leaving the residual beyond the limit on their side."""
    found = []
    for before, after in itertools.pairwise(samples):
        for code, now in after.figures.items():
            then = before.figures.get(code)
            if then is None:
                continue
            moved = now.perp_size - then.perp_size
            if abs(moved) < 1e-9 or moved * now.residual <= 0:
                continue
            if abs(now.residual) > limit_of[code]:
                found.append(
                    f"t={after.t:.1f}s {code}: perp {then.perp:+.3f} -> {now.perp:+.3f} left "
                    f"equity+delta at {now.residual:+.3f} (limit {limit_of[code]:.2f})"
                )
    return found


def no_overshoot(samples: Sequence[Sample]) -> list[str]:
    """I2 (b): no trade carried the account through the far side of its band."""
    return _pushes_past(samples, {c: h.band * BAND_TOLERANCE for c, h in LIMITS.items()})


def sized_to_need(orders: Sequence[VenueOrder]) -> list[str]:
    """I2 (a): each order at most what the venue's own figures still needed at its create."""
    problems = []
    for order in orders:
        limits = LIMITS.get(order.currency)
        if limits is None or order.residual_at_create is None:
            continue
        needed = max(0.0, -order.residual_at_create * math.copysign(1.0, order.coin))
        allowed = needed + order.lot_coin + PRICE_SLACK * limits.band
        if abs(order.coin) > allowed + 1e-9:
            problems.append(
                f"{order.label} {order.symbol}: order {order.coin:+.4f} {order.currency} when "
                f"the venue's equity+delta was {order.residual_at_create:+.4f} "
                f"(allowed {allowed:.4f})"
            )
    return problems


def fills_once(evidence: Evidence) -> list[str]:
    """I3: exchange trades and journal fills are the same set, once each, under the same order."""
    problems = []
    journal = evidence.journal
    venue = {t.trade_id: t for t in evidence.trades}
    journaled = Counter(f.trade_id for f in journal.fills)
    problems += [f"fill {tid} journaled {n} times" for tid, n in journaled.items() if n > 1]
    problems += [f"trade {tid} never journaled" for tid in sorted(set(venue) - set(journaled))]
    problems += [
        f"fill {tid} unknown to the exchange" for tid in sorted(set(journaled) - set(venue))
    ]
    for fill in journal.fills:
        trade = venue.get(fill.trade_id)
        if trade is None:
            continue
        if trade.label != fill.client_id or not math.isclose(trade.amount, fill.amount):
            problems.append(
                f"fill {fill.trade_id}: journal {fill.client_id} {fill.amount}, "
                f"exchange {trade.label} {trade.amount}"
            )
    for order in evidence.orders:
        row = journal.orders.get(order.label)
        if row is not None and not math.isclose(row.filled, order.filled, abs_tol=1e-6):
            problems.append(
                f"order {order.label}: journal filled {row.filled} ({row.state}), "
                f"exchange filled {order.filled}"
            )
    return problems


def worst_residuals(samples: Sequence[Sample]) -> dict[str, float]:
    """The largest |equity + delta_total| seen per currency (for the report)."""
    worst: dict[str, float] = {}
    for sample in samples:
        for code, figures in sample.figures.items():
            worst[code] = max(worst.get(code, 0.0), abs(figures.residual))
    return worst
