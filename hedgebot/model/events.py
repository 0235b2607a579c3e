"""Daemon events: what the executor, gatekeeper, engine and start-up tell the rest of the daemon.

Owns `DaemonEventKind` (the kinds, whose values are the strings the journal stores and logs show),
one frozen payload class per kind, the `DaemonEvent` union of them and `EventSink`, the one
callback type every emitter is handed. Control flow travels as these values: the gatekeeper
reacts to `OrderAccepted` / `OrderRejected`, the operator surface releases systemd's READY on
`DaemonStarted`, alerts and logs are maps keyed by the kind. It must not decide what an event
does: the subscribers (`hedgebot.app`, `hedgebot.daemon.gatekeeper`,
`hedgebot.operator.surface`) do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, get_args

from hedgebot.model.trading import TradingOrigin, TradingState


class DaemonEventKind(StrEnum):
    """Every kind of daemon event; the value is the name journaled and logged."""

    DAEMON_STARTED = "daemon.started"
    DAEMON_STOPPED = "daemon.stopped"
    DAEMON_FAILED = "daemon.failed"
    TASK_DIED = "daemon.task_died"
    ORDER_ACCEPTED = "order.accepted"
    ORDER_REJECTED = "order.rejected"
    ORDER_NOT_PLACED = "order.not_placed"
    ORDER_UNKNOWN = "order.unknown"
    ORDER_FOUND = "order.found"
    ORDER_LOST = "order.lost"
    ORDER_UNRESOLVED = "order.unresolved"
    ORDER_LATE_FILL = "order.late_fill"
    GUARD_HALTED = "guard.halted"
    KILL_SWITCH = "guard.kill_switch"
    TRADING_STATE_CHANGED = "trading.state_changed"
    TRADING_RESTORED = "trading.restored"
    OPERATOR_HALT = "operator.halt"
    OPERATOR_RESUME = "operator.resume"
    HEDGES_FLATTENED = "hedges.flattened"
    MARKET_BAD_DATA = "market.bad_data"
    MARKET_BAD_DATA_CLEARED = "market.bad_data_cleared"
    RISK_UNVALUED = "risk.unvalued"
    RISK_VALUED = "risk.valued"
    VEGA_LIMIT_EXCEEDED = "vega.limit_exceeded"
    VEGA_LIMIT_CLEARED = "vega.limit_cleared"
    GREEKS_DIVERGENCE = "greeks.divergence"
    GREEKS_AGREED = "greeks.agreed"
    FENCE_FOREIGN_HEDGER = "fence.foreign_hedger"


@dataclass(frozen=True, slots=True)
class _Event:
    """Base of the payloads: `kind` per class, `detail()` for the journal, logs and alerts."""

    kind: ClassVar[DaemonEventKind]

    def detail(self) -> Mapping[str, object]:
        """The payload as the journal's and the logs' name -> value mapping."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


# --- the process ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonStarted(_Event):
    """The start-up gates passed: the daemon is ready to trade (systemd READY)."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.DAEMON_STARTED
    mode: str
    venues: str
    underlyings: str
    adopted_orders: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonStopped(_Event):
    """The daemon shut down cleanly."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.DAEMON_STOPPED
    mode: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonFailed(_Event):
    """The hedge loop stopped on a typed failure."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.DAEMON_FAILED
    error: str
    detail_text: str

    def detail(self) -> Mapping[str, object]:
        """Journaled as ``{"error", "detail"}`` (the stored names of earlier releases)."""
        return {"error": self.error, "detail": self.detail_text}


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskDied(_Event):
    """A supervised long-lived task ended while the daemon ran."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.TASK_DIED
    task: str
    error: str


# --- orders (the executor) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted(_Event):
    """The venue accepted a create: the underlying's reject streak ends."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.ORDER_ACCEPTED
    underlying: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(_Event):
    """The venue rejected a create: the underlying's reject streak grows."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.ORDER_REJECTED
    underlying: str
    client_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderNotPlaced(_Event):
    """The create never became an order (refused before placing, or never seen by the venue)."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.ORDER_NOT_PLACED
    underlying: str
    client_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUnknown(_Event):
    """The create got no definite answer: it is looked up by client id."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.ORDER_UNKNOWN
    underlying: str
    client_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFound(_Event):
    """A lookup by client id found the order."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.ORDER_FOUND
    underlying: str
    client_id: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLost(_Event):
    """Not found after a search whose lookups partly failed: its instrument halts."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.ORDER_LOST
    underlying: str
    client_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderUnresolved(_Event):
    """A live order of unknown fate stayed unresolved: its instrument halts."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.ORDER_UNRESOLVED
    underlying: str
    client_id: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderLateFill(_Event):
    """A fill arrived for an order already settled."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.ORDER_LATE_FILL
    client_id: str
    amount: float


# --- trading state (the gatekeeper, the operator) ---------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GuardHalted(_Event):
    """A guard halted one underlying until an operator resumes."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.GUARD_HALTED
    underlying: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class KillSwitchEngaged(_Event):
    """The kill switch stopped all trading until an operator resumes."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.KILL_SWITCH
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingStateChanged(_Event):
    """The trading state moved."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.TRADING_STATE_CHANGED
    before: TradingState
    after: TradingState
    reason: str
    origin: TradingOrigin

    def detail(self) -> Mapping[str, object]:
        """Journaled as ``{"from", "to", "reason", "origin"}``."""
        return {"from": self.before, "to": self.after, "reason": self.reason, "origin": self.origin}


@dataclass(frozen=True, slots=True, kw_only=True)
class TradingRestored(_Event):
    """Halts a previous run journaled hold again."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.TRADING_RESTORED
    flags: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorHalt(_Event):
    """An operator halted all trading."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.OPERATOR_HALT
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorResume(_Event):
    """An operator resumed trading (halts, the kill switch and instrument halts lifted)."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.OPERATOR_RESUME


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgesFlattened(_Event):
    """An operator's flatten closed every hedge position."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.HEDGES_FLATTENED
    legs: int


# --- data and risk (market sanity, the engine, the fence) -------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketBadData(_Event):
    """A source's market data is not believed and is held back."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.MARKET_BAD_DATA
    source: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketBadDataCleared(_Event):
    """A source's market data is sane again."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.MARKET_BAD_DATA_CLEARED
    source: str
    refused: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskUnvalued(_Event):
    """An underlying's book cannot be valued: it holds."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.RISK_UNVALUED
    underlying: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskValued(_Event):
    """An underlying's book is valued again."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.RISK_VALUED
    underlying: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VegaLimitExceeded(_Event):
    """An expiry's |vega| went beyond its underlying's limit."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.VEGA_LIMIT_EXCEEDED
    underlying: str
    expiry: str
    vega_usd_per_vol_point: str
    limit: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VegaLimitCleared(_Event):
    """Every expiry of an underlying is back within its vega limit."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.VEGA_LIMIT_CLEARED
    underlying: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GreeksDivergence(_Event):
    """Our position deltas disagree with the venue's."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.GREEKS_DIVERGENCE
    underlying: str
    level: str
    detail_text: str

    def detail(self) -> Mapping[str, object]:
        """Journaled as ``{"underlying", "level", "detail"}``."""
        return {"underlying": self.underlying, "level": self.level, "detail": self.detail_text}


@dataclass(frozen=True, slots=True, kw_only=True)
class GreeksAgreed(_Event):
    """Our deltas agree with the venue's again."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.GREEKS_AGREED
    underlying: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FenceForeignHedger(_Event):
    """Another hedgebot installation trades a hedge instrument: it halts."""

    kind: ClassVar[DaemonEventKind] = DaemonEventKind.FENCE_FOREIGN_HEDGER
    instrument: str
    installation: str


DaemonEvent = (
    DaemonStarted
    | DaemonStopped
    | DaemonFailed
    | TaskDied
    | OrderAccepted
    | OrderRejected
    | OrderNotPlaced
    | OrderUnknown
    | OrderFound
    | OrderLost
    | OrderUnresolved
    | OrderLateFill
    | GuardHalted
    | KillSwitchEngaged
    | TradingStateChanged
    | TradingRestored
    | OperatorHalt
    | OperatorResume
    | HedgesFlattened
    | MarketBadData
    | MarketBadDataCleared
    | RiskUnvalued
    | RiskValued
    | VegaLimitExceeded
    | VegaLimitCleared
    | GreeksDivergence
    | GreeksAgreed
    | FenceForeignHedger
)
"""Any daemon event: one payload class per `DaemonEventKind`."""

EVENT_TYPES: tuple[type[DaemonEvent], ...] = get_args(DaemonEvent)
"""The payload classes, one per kind."""

EventSink = Callable[[DaemonEvent], None]
"""The one callback type every emitter is given: told each event as it happens; returns at once."""
