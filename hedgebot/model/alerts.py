"""Alert values: `Severity` and the frozen `Alert` (one thing to tell the operator).

Owns the value only; deciding when something is worth an alert belongs to the core (e.g.
`hedgebot.core.margin_alerts`) and delivering it to the operator layer
(`hedgebot.operator.alerts.AlertDispatcher`). It must not import anything else of hedgebot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

__all__ = ["Alert", "Severity"]


class Severity(StrEnum):
    """How urgent an alert is. RESOLVED announces that an earlier WARNING/CRITICAL is over."""

    INFO = "INFO"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    RESOLVED = "RESOLVED"


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One thing to tell the operator. `key` names the condition (e.g. `margin.deribit-main`)."""

    key: str
    severity: Severity
    title: str
    body: str = ""
    fields: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("an alert needs a non-empty key")
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))
