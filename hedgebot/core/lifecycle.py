"""Order lifecycle: the explicit state machine of one hedge order, from intent to outcome.

Owns `OrderState`, the lifecycle events, the `TRANSITIONS` table, `TrackedOrder` and `apply`.
Everything here is pure: no I/O, no clock, no logging. The executor journals the intent
(`TrackedOrder.pending`), talks to the venue and feeds what it learns in as events; `apply`
answers with the next frozen `TrackedOrder` or raises `IllegalTransition`.

It must not decide what to trade, and an order is never the truth about positions: the venue's
positions are. Orders are tracked so that nothing is lost (fills are always counted, once, by
trade id); when an order stops counting as in flight is `hedgebot.core.settlement`'s rule.

How events are read:

* A fill is never dropped. A trade id is counted once; the filled amount only grows and is
  capped at the order amount. A fill on CANCELLED, REJECTED or LOST is a *late fill*: its amount
  counts and the state stays, or becomes FILLED when the order is complete.
* Venue reports (`VenueStatus`, and the status carried by `Submitted` and `FoundByLookup`) carry
  a cumulative filled amount. Trade fills and cumulative reports are both lower bounds of what
  really filled, so the filled amount is their maximum, never their sum.
* Evidence that an order exists beats the absence of evidence, and a terminal outcome beats an
  older "open" report: stale or reordered reports are absorbed rather than refused.
* What remains illegal is what signals a bug or a contradictory venue: a second timeout, a
  lookup before any timeout, a rejection after a fill, an "open" report after a rejection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias, assert_never

from hedgebot.model.errors import HedgebotError
from hedgebot.model.orders import Fill, OrderRequest, OrderStatus, OrderUpdate

_COMPLETE_TOLERANCE = 1e-9
"""Relative tolerance under which a filled amount counts as the whole order (float sums)."""


class OrderState(StrEnum):
    """Where one of our orders is in its life."""

    PENDING_SUBMIT = "pending_submit"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    LOST = "lost"

    @property
    def is_live(self) -> bool:
        """True while the order may still fill and must be counted as in flight."""
        return self in _LIVE_STATES

    @property
    def is_terminal(self) -> bool:
        """True once hedgebot no longer counts the order as in flight (late fills still count)."""
        return not self.is_live


_LIVE_STATES = frozenset(
    {OrderState.PENDING_SUBMIT, OrderState.OPEN, OrderState.PARTIALLY_FILLED, OrderState.UNKNOWN}
)


class EventKind(StrEnum):
    """The column of the transition table an event falls into."""

    SUBMITTED = "submitted"
    SUBMIT_TIMED_OUT = "submit_timed_out"
    SUBMIT_REJECTED = "submit_rejected"
    CANCEL_REQUESTED = "cancel_requested"
    FOUND_BY_LOOKUP = "found_by_lookup"
    LOOKUP_MISSED = "lookup_missed"
    NOT_FOUND_AFTER_SEARCH = "not_found_after_search"
    FILL_PARTIAL = "fill_partial"
    FILL_COMPLETE = "fill_complete"
    REPORTED_OPEN = "reported_open"
    REPORTED_PARTIALLY_FILLED = "reported_partially_filled"
    REPORTED_FILLED = "reported_filled"
    REPORTED_CANCELLED = "reported_cancelled"
    REPORTED_REJECTED = "reported_rejected"


class IllegalTransition(HedgebotError):
    """An event that the transition table does not allow in the order's current state."""

    def __init__(self, *, client_id: str, state: OrderState, kind: EventKind) -> None:
        super().__init__(f"order {client_id}: {kind} is not allowed in state {state}")
        self.client_id = client_id
        self.state = state
        self.kind = kind


# --- the transition table -------------------------------------------------------------------

_S = OrderState
_E = EventKind

_FILLS_OF_A_LIVE_ORDER = {_E.FILL_PARTIAL: _S.PARTIALLY_FILLED, _E.FILL_COMPLETE: _S.FILLED}
_REPORTS_OF_A_LIVE_ORDER = {
    _E.REPORTED_OPEN: _S.OPEN,
    _E.REPORTED_PARTIALLY_FILLED: _S.PARTIALLY_FILLED,
    _E.REPORTED_FILLED: _S.FILLED,
    _E.REPORTED_CANCELLED: _S.CANCELLED,
    _E.REPORTED_REJECTED: _S.REJECTED,
}
_LOOKUP_RACES = (
    _E.CANCEL_REQUESTED,
    _E.FOUND_BY_LOOKUP,
    _E.LOOKUP_MISSED,
    _E.NOT_FOUND_AFTER_SEARCH,
)
"""Events that may arrive after the stream already settled the order: they change nothing."""


def _stays(state: OrderState, *kinds: EventKind) -> dict[EventKind, OrderState]:
    return dict.fromkeys(kinds, state)


def _late_fills(state: OrderState) -> dict[EventKind, OrderState]:
    return {_E.FILL_PARTIAL: state, _E.FILL_COMPLETE: _S.FILLED}


_TABLE: dict[OrderState, dict[EventKind, OrderState]] = {
    # Journaled, being sent. Lookups and cancels wait for the create's answer or its timeout.
    _S.PENDING_SUBMIT: {
        _E.SUBMITTED: _S.OPEN,
        _E.SUBMIT_TIMED_OUT: _S.UNKNOWN,
        _E.SUBMIT_REJECTED: _S.REJECTED,
        **_FILLS_OF_A_LIVE_ORDER,
        **_REPORTS_OF_A_LIVE_ORDER,
    },
    # Resting on the venue. The stream may beat the ack or the timeout of the create.
    _S.OPEN: {
        **_stays(_S.OPEN, _E.SUBMITTED, _E.SUBMIT_TIMED_OUT, *_LOOKUP_RACES),
        **_FILLS_OF_A_LIVE_ORDER,
        **_REPORTS_OF_A_LIVE_ORDER,
    },
    # Part filled: it can no longer have been rejected.
    _S.PARTIALLY_FILLED: {
        **_stays(_S.PARTIALLY_FILLED, _E.SUBMITTED, _E.SUBMIT_TIMED_OUT, *_LOOKUP_RACES),
        **_FILLS_OF_A_LIVE_ORDER,
        _E.REPORTED_OPEN: _S.PARTIALLY_FILLED,
        _E.REPORTED_PARTIALLY_FILLED: _S.PARTIALLY_FILLED,
        _E.REPORTED_FILLED: _S.FILLED,
        _E.REPORTED_CANCELLED: _S.CANCELLED,
    },
    # The create got no definite answer: counted in flight; look it up by client id.
    _S.UNKNOWN: {
        _E.CANCEL_REQUESTED: _S.UNKNOWN,
        _E.FOUND_BY_LOOKUP: _S.OPEN,
        _E.LOOKUP_MISSED: _S.UNKNOWN,
        _E.NOT_FOUND_AFTER_SEARCH: _S.LOST,
        **_FILLS_OF_A_LIVE_ORDER,
        **_REPORTS_OF_A_LIVE_ORDER,
    },
    # Done. Stale reports and acks are absorbed. (Reports about a complete order all read as
    # REPORTED_FILLED; the other report columns are listed so the row reads as intended.)
    _S.FILLED: {
        **_stays(_S.FILLED, _E.SUBMITTED, _E.SUBMIT_TIMED_OUT, *_LOOKUP_RACES),
        **_stays(_S.FILLED, _E.FILL_PARTIAL, _E.FILL_COMPLETE),
        **_stays(
            _S.FILLED,
            _E.REPORTED_OPEN,
            _E.REPORTED_PARTIALLY_FILLED,
            _E.REPORTED_FILLED,
            _E.REPORTED_CANCELLED,
        ),
    },
    # Cancelled: late fills count; a venue that says FILLED after all is believed.
    _S.CANCELLED: {
        **_stays(_S.CANCELLED, _E.SUBMITTED, _E.SUBMIT_TIMED_OUT, *_LOOKUP_RACES),
        **_late_fills(_S.CANCELLED),
        **_stays(_S.CANCELLED, _E.REPORTED_OPEN, _E.REPORTED_PARTIALLY_FILLED),
        _E.REPORTED_CANCELLED: _S.CANCELLED,
        _E.REPORTED_FILLED: _S.FILLED,
    },
    # Rejected: it never rested, so an ack or an "open" report contradicts it.
    _S.REJECTED: {
        **_stays(_S.REJECTED, _E.SUBMIT_TIMED_OUT, _E.SUBMIT_REJECTED, *_LOOKUP_RACES),
        **_late_fills(_S.REJECTED),
        _E.REPORTED_REJECTED: _S.REJECTED,
        _E.REPORTED_FILLED: _S.FILLED,
    },
    # Given up after a bounded search (instrument halted, operator alerted). Late news of a
    # terminal outcome is recorded; an "open" report keeps it LOST for the operator.
    _S.LOST: {
        **_stays(_S.LOST, *_LOOKUP_RACES),
        **_late_fills(_S.LOST),
        **_stays(_S.LOST, _E.REPORTED_OPEN, _E.REPORTED_PARTIALLY_FILLED),
        _E.REPORTED_FILLED: _S.FILLED,
        _E.REPORTED_CANCELLED: _S.CANCELLED,
        _E.REPORTED_REJECTED: _S.REJECTED,
    },
}

TRANSITIONS: Mapping[tuple[OrderState, EventKind], OrderState] = MappingProxyType(
    {(state, kind): target for state, row in _TABLE.items() for kind, target in row.items()}
)
"""(state, event kind) -> next state. A pair that is absent is an `IllegalTransition`."""


# --- events ---------------------------------------------------------------------------------


def _require_amount(value: float, *, what: str, allow_zero: bool) -> None:
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{what} must be a finite {'non-negative' if allow_zero else 'positive'}")


@dataclass(frozen=True, slots=True, kw_only=True)
class Submitted:
    """The create returned: the venue has the order, in the state its acknowledgement reports."""

    update: OrderUpdate
    at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitTimedOut:
    """The create got no definite answer (`OrderOutcomeUnknown`): the order may exist."""

    at_ms: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    """The create was refused for good (`OrderRejected`)."""

    at_ms: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FillApplied:
    """One execution of the order, counted once per `trade_id`."""

    trade_id: str
    amount: float
    at_ms: int

    def __post_init__(self) -> None:
        _require_amount(self.amount, what=f"fill {self.trade_id} amount", allow_zero=False)

    @classmethod
    def of(cls, fill: Fill, *, at_ms: int) -> FillApplied:
        """The event for a venue `Fill` (the caller routes it to the order by client id)."""
        return cls(trade_id=fill.trade_id, amount=fill.amount, at_ms=at_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueStatus:
    """The venue's report of the order: its status and cumulative filled amount."""

    status: OrderStatus
    filled_amount: float
    at_ms: int
    venue_order_id: str | None = None

    def __post_init__(self) -> None:
        _require_amount(self.filled_amount, what="reported filled amount", allow_zero=True)

    @classmethod
    def of(cls, update: OrderUpdate, *, at_ms: int) -> VenueStatus:
        """The event for a streamed `OrderUpdate` (the caller routes it by client id)."""
        return cls(
            status=update.status,
            filled_amount=update.filled_amount,
            at_ms=at_ms,
            venue_order_id=update.venue_order_id,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelRequested:
    """hedgebot asked the venue to cancel the order (the outcome arrives as a `VenueStatus`)."""

    at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundByLookup:
    """A lookup by client id found the order, in the state the venue reports."""

    update: OrderUpdate
    at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupMissed:
    """A lookup by client id did not find the order (yet): one more attempt counted."""

    at_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NotFoundAfterSearch:
    """The bounded search is exhausted: the order is declared LOST."""

    at_ms: int
    reason: str = ""


Event: TypeAlias = (
    Submitted
    | SubmitTimedOut
    | Rejected
    | FillApplied
    | VenueStatus
    | CancelRequested
    | FoundByLookup
    | LookupMissed
    | NotFoundAfterSearch
)


# --- the tracked order ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TrackedOrder:
    """One order of ours as hedgebot knows it. Replaced, never mutated, by `apply`."""

    request: OrderRequest
    state: OrderState
    created_ms: int
    updated_ms: int
    filled_amount: float = 0.0
    """Best lower bound of the executed amount: max(trade fills, venue cumulative), ≤ amount."""
    traded_amount: float = 0.0
    """Sum of the fills counted by trade id (uncapped, so an overfill stays visible)."""
    applied_trade_ids: frozenset[str] = field(default_factory=frozenset)
    venue_order_id: str | None = None
    lookup_attempts: int = 0
    cancel_requested_ms: int | None = None
    reason: str = ""
    """Why the order was rejected, timed out or lost, for alerts and the journal."""

    def __post_init__(self) -> None:
        _require_amount(self.filled_amount, what="filled amount", allow_zero=True)
        if self.filled_amount > self.request.amount:
            raise ValueError(f"{self.request.client_id}: filled amount exceeds the order amount")
        if self.lookup_attempts < 0:
            raise ValueError(f"{self.request.client_id}: lookup attempts cannot be negative")

    @classmethod
    def pending(cls, request: OrderRequest, *, now_ms: int) -> TrackedOrder:
        """A new order intent, to be journaled before it is sent."""
        return cls(
            request=request, state=OrderState.PENDING_SUBMIT, created_ms=now_ms, updated_ms=now_ms
        )

    @property
    def client_id(self) -> str:
        """hedgebot's id of the order (Deribit: `label`)."""
        return self.request.client_id

    @property
    def remaining(self) -> float:
        """Unsigned amount not (known to be) filled yet."""
        return self.request.amount - self.filled_amount

    @property
    def is_terminal(self) -> bool:
        """True once the order is FILLED, CANCELLED, REJECTED or LOST."""
        return self.state.is_terminal


# --- apply ----------------------------------------------------------------------------------


def apply(order: TrackedOrder, event: Event) -> TrackedOrder:
    """The order after `event`; raises `IllegalTransition` if the table forbids it.

    A fill never raises and a fill whose trade id was already applied returns `order` itself.
    Events carrying an `OrderUpdate` raise `ValueError` if it is about another client id.
    """
    match event:
        case FillApplied():
            return _apply_fill(order, event)
        case VenueStatus():
            return _apply_report(order, event)
        case Submitted():
            _require_same_order(order, event.update)
            acked = _moved(order, EventKind.SUBMITTED, event.at_ms)
            return _apply_report(acked, VenueStatus.of(event.update, at_ms=event.at_ms))
        case FoundByLookup():
            _require_same_order(order, event.update)
            found = _moved(order, EventKind.FOUND_BY_LOOKUP, event.at_ms)
            return _apply_report(found, VenueStatus.of(event.update, at_ms=event.at_ms))
        case SubmitTimedOut():
            return _moved(order, EventKind.SUBMIT_TIMED_OUT, event.at_ms, reason=event.reason)
        case Rejected():
            return _moved(order, EventKind.SUBMIT_REJECTED, event.at_ms, reason=event.reason)
        case CancelRequested():
            requested = _moved(order, EventKind.CANCEL_REQUESTED, event.at_ms)
            return replace(requested, cancel_requested_ms=event.at_ms)
        case LookupMissed():
            missed = _moved(order, EventKind.LOOKUP_MISSED, event.at_ms)
            return replace(missed, lookup_attempts=order.lookup_attempts + 1)
        case NotFoundAfterSearch():
            return _moved(order, EventKind.NOT_FOUND_AFTER_SEARCH, event.at_ms, reason=event.reason)
        case _:
            assert_never(event)


def _report_kind(order: TrackedOrder, status: OrderStatus, filled_amount: float) -> EventKind:
    """The table column of a venue report about `order` (its fills merged in first).

    A FILLED status, or a merged fill that completes the order, reads as REPORTED_FILLED; an open
    status with something filled reads as REPORTED_PARTIALLY_FILLED.
    """
    merged = _merged_fill(order, _reported_fill(order, status, filled_amount))
    if merged == order.request.amount:
        return EventKind.REPORTED_FILLED
    match status:
        case OrderStatus.OPEN | OrderStatus.PARTIALLY_FILLED:
            return EventKind.REPORTED_PARTIALLY_FILLED if merged > 0 else EventKind.REPORTED_OPEN
        case OrderStatus.CANCELLED:
            return EventKind.REPORTED_CANCELLED
        case OrderStatus.REJECTED:
            return EventKind.REPORTED_REJECTED
        case OrderStatus.FILLED:
            return EventKind.REPORTED_FILLED
        case _:
            assert_never(status)


def _moved(order: TrackedOrder, kind: EventKind, at_ms: int, *, reason: str = "") -> TrackedOrder:
    """The order in the table's next state; `reason` is kept only if the state changes."""
    target = TRANSITIONS.get((order.state, kind))
    if target is None:
        raise IllegalTransition(client_id=order.client_id, state=order.state, kind=kind)
    changed_reason = reason if reason and target is not order.state else order.reason
    return replace(
        order, state=target, updated_ms=max(order.updated_ms, at_ms), reason=changed_reason
    )


def _apply_fill(order: TrackedOrder, fill: FillApplied) -> TrackedOrder:
    if fill.trade_id in order.applied_trade_ids:
        return order
    traded = order.traded_amount + fill.amount
    filled = _merged_fill(order, traded)
    complete = filled == order.request.amount
    moved = _moved(
        order, EventKind.FILL_COMPLETE if complete else EventKind.FILL_PARTIAL, fill.at_ms
    )
    return replace(
        moved,
        filled_amount=filled,
        traded_amount=traded,
        applied_trade_ids=order.applied_trade_ids | {fill.trade_id},
    )


def _apply_report(order: TrackedOrder, report: VenueStatus) -> TrackedOrder:
    kind = _report_kind(order, report.status, report.filled_amount)
    moved = _moved(order, kind, report.at_ms)
    reported = _reported_fill(order, report.status, report.filled_amount)
    return replace(
        moved,
        filled_amount=_merged_fill(order, reported),
        venue_order_id=report.venue_order_id or order.venue_order_id,
    )


def _reported_fill(order: TrackedOrder, status: OrderStatus, filled_amount: float) -> float:
    """A FILLED status means all of it, whatever amount the venue put beside it."""
    return order.request.amount if status is OrderStatus.FILLED else filled_amount


def _merged_fill(order: TrackedOrder, candidate: float) -> float:
    """The larger lower bound, capped at the order amount (snapped to it within float noise)."""
    amount = order.request.amount
    merged = max(order.filled_amount, candidate)
    if merged >= amount * (1.0 - _COMPLETE_TOLERANCE):
        return amount
    return merged


def _require_same_order(order: TrackedOrder, update: OrderUpdate) -> None:
    if update.client_id != order.client_id:
        raise ValueError(f"update for {update.client_id} applied to order {order.client_id}")
