"""Margin alerting as a pure hysteresis state machine over maintenance-margin / equity ratios.

Owns `MarginThresholds`, `MarginAlertState`, `step` and the `Alert` a transition becomes. One
alert per crossing, nothing while the ratio hovers around a threshold:

* NORMAL -> WARNING when the ratio reaches `warning`; -> CRITICAL when it reaches `critical`
  (a jump straight past both levels is one CRITICAL alert).
* WARNING -> CRITICAL at `critical`; WARNING -> NORMAL (RESOLVED) only below `warning - gap`.
* CRITICAL -> WARNING (one WARNING alert, "eased") only below `critical - gap`;
  CRITICAL -> NORMAL (RESOLVED) below `warning - gap`.

An infinite ratio (equity <= 0, see `MarginState.maintenance_ratio`) counts as critical; a NaN
ratio changes nothing. It must not do I/O, read clocks or keep mutable state: the caller holds
one `MarginAlertState` per account and submits the alerts (`hedgebot.operator.alerts`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hedgebot.model.alerts import Alert, Severity

__all__ = [
    "AlertTransition",
    "MarginAlertState",
    "MarginLevel",
    "MarginThresholds",
    "margin_alert",
    "step",
]


class MarginLevel(StrEnum):
    """Where an account's MM/equity ratio stands, after hysteresis."""

    NORMAL = "NORMAL"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginThresholds:
    """Alert levels on MM/equity (1.0 is liquidation) and the hysteresis gap below each."""

    warning: float = 0.5
    critical: float = 0.75
    gap: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= self.gap < self.warning < self.critical:
            raise ValueError("margin thresholds need 0 <= gap < warning < critical")


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginAlertState:
    """The alert level of one account."""

    account: str
    thresholds: MarginThresholds = field(default_factory=MarginThresholds)
    level: MarginLevel = MarginLevel.NORMAL


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertTransition:
    """One crossing: the alert severity it deserves, from which level to which, at what ratio."""

    account: str
    severity: Severity
    previous: MarginLevel
    level: MarginLevel
    ratio: float
    thresholds: MarginThresholds


def step(state: MarginAlertState, ratio: float) -> tuple[MarginAlertState, list[AlertTransition]]:
    """Feed one MM/equity observation; return the new state and the alerts it triggers (0 or 1)."""
    level = _next_level(state.level, ratio, state.thresholds)
    if level is state.level:
        return state, []
    transition = AlertTransition(
        account=state.account,
        severity=_SEVERITY_OF_LEVEL[level],
        previous=state.level,
        level=level,
        ratio=ratio,
        thresholds=state.thresholds,
    )
    return dataclasses.replace(state, level=level), [transition]


_SEVERITY_OF_LEVEL = {
    MarginLevel.NORMAL: Severity.RESOLVED,
    MarginLevel.WARNING: Severity.WARNING,
    MarginLevel.CRITICAL: Severity.CRITICAL,
}


def _next_level(level: MarginLevel, ratio: float, t: MarginThresholds) -> MarginLevel:
    """The hysteresis table of the module docstring (NaN compares False: no change)."""
    if ratio >= t.critical:
        return MarginLevel.CRITICAL
    if level is MarginLevel.NORMAL:
        return MarginLevel.WARNING if ratio >= t.warning else level
    if ratio < t.warning - t.gap:
        return MarginLevel.NORMAL
    if level is MarginLevel.CRITICAL and ratio < t.critical - t.gap:
        return MarginLevel.WARNING
    return level


MARGIN_RUNBOOK: Mapping[MarginLevel, str] = {
    MarginLevel.NORMAL: "docs/operator.md#margin-recovered",
    MarginLevel.WARNING: "docs/operator.md#margin-warning",
    MarginLevel.CRITICAL: "docs/operator.md#margin-critical",
}
"""The operator guide's section for each level an alert can announce."""


def margin_alert(transition: AlertTransition) -> Alert:
    """The operator alert for a transition; its key is `margin.<account>` for every level
    (the surface names margin lines `<account>/<currency>`)."""
    t = transition.thresholds
    account = transition.account
    return Alert(
        key=f"margin.{account}",
        severity=transition.severity,
        title=_title(transition),
        body=_body(transition),
        fields={
            "account": account,
            "mm_ratio": f"{transition.ratio:.4f}",
            "warning_at": f"{t.warning:.4f}",
            "critical_at": f"{t.critical:.4f}",
            "previous_level": transition.previous.value,
        },
    )


def _title(transition: AlertTransition) -> str:
    account = transition.account
    if transition.level is MarginLevel.NORMAL:
        return f"Margin recovered on {account}"
    if transition.level is MarginLevel.CRITICAL:
        return f"Margin CRITICAL on {account}"
    if transition.previous is MarginLevel.CRITICAL:
        return f"Margin eased to warning on {account}"
    return f"Margin warning on {account}"


def _body(transition: AlertTransition) -> str:
    ratio = transition.ratio
    pct = "inf" if ratio == float("inf") else f"{ratio:.1%}"
    return (
        f"Maintenance margin is {pct} of equity (liquidation at 100%). "
        f"See {MARGIN_RUNBOOK[transition.level]}."
    )
