"""One-shot faults of a local exchange, armed by a test or an operator.

Owns `Fault` (what happens to the next matching request) and `FaultPlan` (the armed faults,
consumed in order). A fault matches a request by path substring (``"/order"``) and, optionally,
HTTP method. Kinds:

* ``lose_answer``: the request is processed, then the connection is dropped without an answer
  (the client cannot know whether an order was placed);
* ``reject_before``: the connection is dropped before the request is processed;
* ``rate_limit``: answered with the venue's rate-limit status and code, not processed;
* ``delay``: processed, answered after ``delay_s``;
* ``error``: answered with the given venue error, not processed.

Websocket disconnects are separate: `FaultPlan.drop_websockets` is set and the server closes
every socket on its next tick. It must not know any venue's wire format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["lose_answer", "reject_before", "rate_limit", "delay", "error"]


@dataclass(frozen=True, slots=True)
class Fault:
    """What happens to the next request whose path contains `path` (and method, if given)."""

    kind: FaultKind
    path: str
    method: str | None = None
    delay_s: float = 0.0
    code: int = 0
    message: str = ""


class FaultPlan:
    """Armed faults, each consumed by the first request it matches."""

    def __init__(self) -> None:
        self._armed: list[Fault] = []
        self.drop_websockets = False
        self.fired: list[Fault] = []

    def arm(self, fault: Fault) -> None:
        """Add a fault (several for the same path fire in order)."""
        self._armed.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request, removed from the plan."""
        for position, fault in enumerate(self._armed):
            if fault.path in path and (fault.method is None or fault.method == method):
                del self._armed[position]
                self.fired.append(fault)
                return fault
        return None

    def clear(self) -> None:
        """Disarm every fault that has not fired, and any pending websocket drop."""
        self._armed.clear()
        self.drop_websockets = False

    @property
    def pending(self) -> int:
        """How many faults have not fired yet."""
        return len(self._armed)
