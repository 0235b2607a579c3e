"""Settlement: when an order stops counting as in flight. The one place this rule is written.

An order's fills reach the venue's account state (the positions hedgebot reads) on their own
schedule; until an account state *known to contain* them has been seen, the policy must keep
counting them as in flight, or it hedges the same need twice. Knowing is judged by time, on one
clock (hedgebot's local clock):

* every time hedgebot learns a larger filled amount of an order (a trade, an order report, a
  lookup), it records a `FillMark` (when it was known, the cumulative filled amount);
* an account state carries, per part, the local time its request was *sent*
  (`AccountSnapshot.read_started_ms`); a part sent strictly after a mark contains that mark's
  fills (the venue executed them before it told us, and answered the read after it was sent);
  a snapshot read atomically (simulator, paper) contains what was known up to its timestamp.
  The settlement rule uses the earliest start over the parts that carry fills (`STATE_PARTS`),
  never the time the last answer of a multi-request read returned;
* what the state contains only grows: the largest mark older than a seen read.

An order *settles* (leaves the executor's live set and stops blocking its instrument) when it is
terminal and the state contains all it filled. Until then `in_flight_signed` is its live
remainder plus the fills the state does not contain yet. Pure: no I/O, no clock, no logging.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hedgebot.core.lifecycle import TrackedOrder
from hedgebot.model.account import AccountSnapshot, SnapshotPart

STATE_PARTS: tuple[SnapshotPart, ...] = (SnapshotPart.POSITIONS, SnapshotPart.FUNDS)
"""The snapshot parts a fill changes: the position, and the coin equity (fees, P&L)."""

_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class FillMark:
    """At local time `known_ms` hedgebot knew that `filled` (cumulative) of the order executed."""

    known_ms: int
    filled: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Settlement:
    """What is known of one order's fills, and how much of them the account state contains."""

    marks: tuple[FillMark, ...] = ()
    contained: float = 0.0
    """Filled amount known to be in the newest account state seen."""

    @property
    def known_filled(self) -> float:
        """The largest filled amount recorded."""
        return self.marks[-1].filled if self.marks else 0.0

    def fill_known(self, filled: float, *, at_ms: int) -> Settlement:
        """Record that `filled` (cumulative) was known at `at_ms`; smaller news changes nothing."""
        if filled <= self.known_filled:
            return self
        return replace(self, marks=(*self.marks, FillMark(at_ms, filled)))

    def state_seen(self, read_ms: int) -> Settlement:
        """An account state whose fill-carrying parts were all requested at or after `read_ms`."""
        contained = max(
            (mark.filled for mark in self.marks if mark.known_ms < read_ms), default=0.0
        )
        if contained <= self.contained:
            return self
        return replace(self, contained=contained)


def state_read_ms(snapshot: AccountSnapshot) -> int:
    """The time an account snapshot is judged by: the earliest request start of `STATE_PARTS`.

    A snapshot without part stamps was taken atomically (simulator, paper) after every event
    pushed before it: it contains what was known up to and including its timestamp, so it
    is judged as read one millisecond later.
    """
    if not snapshot.read_started_ms:
        return snapshot.timestamp_ms + 1
    return snapshot.oldest_read_ms(STATE_PARTS)


def unsettled_fill(order: TrackedOrder, settlement: Settlement) -> float:
    """Unsigned amount the order filled that the account state does not contain yet."""
    return max(0.0, order.filled_amount - settlement.contained)


def in_flight_signed(order: TrackedOrder, settlement: Settlement) -> float:
    """Signed amount the policy must add to the account state: live remainder + unsettled fills."""
    live = order.remaining if order.state.is_live else 0.0
    return order.request.side.sign * (live + unsettled_fill(order, settlement))


def is_settled(order: TrackedOrder, settlement: Settlement) -> bool:
    """True once the order is terminal and the account state contains everything it filled.

    A settled order no longer counts as in flight nor blocks its instrument; its late fills, if
    any, reach the positions the venue reports like any other change.
    """
    if not order.is_terminal:
        return False
    return unsettled_fill(order, settlement) <= _TOLERANCE * max(1.0, order.request.amount)
