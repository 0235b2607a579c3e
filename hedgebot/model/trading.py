"""The trading state as typed values: what may trade, why not, and why the policy decided so.

Owns `TradingState` (ACTIVE / REDUCING / HALTED), `TradingOrigin` (who put it there),
`UnderlyingStatus` (one underlying's row: trading, or the typed reason it does not), `ReasonCode`
(the code on every policy decision, so no caller parses the prose reason) and `Halt`, a durable
halt with its typed `HaltCause`, which the journal stores under the flag names of earlier
releases (``operator``, ``kill_switch``, ``underlying:<name>``, ``instrument:<venue>:<symbol>``).
It must not decide anything: the guards, the gatekeeper and the policy do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TradingState(StrEnum):
    """What the operator (or the engine) allows right now."""

    ACTIVE = "active"
    REDUCING = "reducing"
    """Only orders that reduce exposure or margin may be sent."""
    HALTED = "halted"


class TradingOrigin(StrEnum):
    """Who or what put trading in its current state."""

    START = "start"
    OPERATOR = "operator"
    KILL_SWITCH = "kill switch"
    MARGIN = "margin"


class UnderlyingStatus(StrEnum):
    """One underlying after a turn: trading, or the kind of reason it does not (the row's
    `trading` text says the details)."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"
    """All trading is halted (operator, kill switch)."""
    INSTRUMENT_HALTED = "instrument_halted"
    """Its hedge instrument is halted (a lost order, another hedger) until an operator resumes."""
    REFUSED = "refused"
    """A guard refused this turn's hedge."""
    WAITING_FOR_DATA = "waiting_for_data"
    """Its book cannot be valued (or our deltas disagree with the venue's): it holds."""

    @classmethod
    def of(cls, state: TradingState) -> UnderlyingStatus:
        """The row status while nothing specific to the underlying stops it."""
        return cls(state.value)


class ReasonCode(StrEnum):
    """Why the policy (or the engine around it) decided what it did for one underlying."""

    INSIDE_BAND = "inside_band"
    OUTSIDE_BAND = "outside_band"
    """Delta is outside the band: hedge."""
    IN_FLIGHT = "in_flight"
    """Outside the band, but a hedge order is in flight."""
    COOLDOWN = "cooldown"
    MAX_POSITION = "max_position"
    """Outside the band, but the maximum hedge position is reached."""
    WOULD_OVERSHOOT = "would_overshoot"
    """Outside the band, but the smallest allowed order would overshoot."""
    GUARD_REFUSED = "guard_refused"
    """The policy wanted to hedge; a guard refused."""
    UNVALUED = "unvalued"
    """The book cannot be valued: hold."""
    DELTAS_DIVERGE = "deltas_diverge"
    """Our deltas disagree with the venue's beyond the hold tolerance: hold."""


class HaltCause(StrEnum):
    """What a durable halt stops; the value is the journal's flag-name prefix."""

    OPERATOR = "operator"
    KILL_SWITCH = "kill_switch"
    UNDERLYING = "underlying"
    """One underlying, halted by a guard (a streak of rejects)."""
    INSTRUMENT = "instrument"
    """One hedge instrument (``<venue>:<symbol>``): a lost order, another hedger."""
    REDUCING = "reducing"
    """Margin: only reducing orders until a turn on fresh margin figures lifts it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Halt:
    """A halt that survives a restart: its cause, what it stops, why and who set it."""

    cause: HaltCause
    subject: str = ""
    """The underlying or ``<venue>:<symbol>``; empty for the operator halt and the kill switch."""
    reason: str
    set_by: str

    @property
    def flag_name(self) -> str:
        """The journal's name of this flag."""
        return f"{self.cause.value}:{self.subject}" if self.subject else self.cause.value

    @classmethod
    def from_flag(cls, name: str, *, reason: str, set_by: str) -> Halt | None:
        """The halt a journaled flag name stands for; None for a name no release writes."""
        prefix, _, subject = name.partition(":")
        try:
            cause = HaltCause(prefix)
        except ValueError:
            return None
        return cls(cause=cause, subject=subject, reason=reason, set_by=set_by)
