"""Margin alert hysteresis: one alert per crossing, none while the ratio hovers near a level."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable

from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from hedgebot.core.margin_alerts import (
    AlertTransition,
    MarginAlertState,
    MarginLevel,
    MarginThresholds,
    margin_alert,
    step,
)
from hedgebot.model.alerts import Severity
from hedgebot.operator.alerts import AlertDispatcher
from tests.support.webhook_receiver import WebhookReceiver, running_receiver

THRESHOLDS = MarginThresholds(warning=0.5, critical=0.8, gap=0.05)


def run_path(
    ratios: Iterable[float], state: MarginAlertState | None = None
) -> tuple[MarginAlertState, list[AlertTransition]]:
    state = state or MarginAlertState(account="main", thresholds=THRESHOLDS)
    emitted: list[AlertTransition] = []
    for ratio in ratios:
        state, transitions = step(state, ratio)
        emitted.extend(transitions)
    return state, emitted


def severities(transitions: Iterable[AlertTransition]) -> list[Severity]:
    return [t.severity for t in transitions]


# Rises through warning and critical, hovering around each level, then margin is added.
SCRIPTED_PATH = [
    0.30, 0.42, 0.49, 0.50, 0.49, 0.51, 0.47, 0.46, 0.55, 0.62,
    0.79, 0.80, 0.79, 0.81, 0.77, 0.76, 0.83, 0.90, 0.78,
    0.40, 0.44, 0.46, 0.49, 0.44, 0.30,
]  # fmt: skip


async def test_scripted_margin_path_alerts_warning_critical_resolved_once_each() -> None:
    """The operator's webhook gets exactly warning, critical, resolved, in that order."""
    async with running_receiver(WebhookReceiver()) as receiver:
        dispatcher = AlertDispatcher([SecretStr(receiver.url())])
        runner = asyncio.create_task(dispatcher.run())
        state = MarginAlertState(account="deribit-main", thresholds=THRESHOLDS)
        for ratio in SCRIPTED_PATH:
            state, transitions = step(state, ratio)
            for transition in transitions:
                dispatcher.submit(margin_alert(transition))
        await receiver.wait_for(accepted=3)
        await dispatcher.aclose()
        await runner
    assert [body["type"] for body in receiver.accepted] == ["warning", "failure", "success"]
    assert receiver.titles() == [
        "[WARNING] Margin warning on deribit-main",
        "[CRITICAL] Margin CRITICAL on deribit-main",
        "[RESOLVED] Margin recovered on deribit-main",
    ]
    assert "mm_ratio: 0.5000" in receiver.accepted[0]["message"]
    assert state.level is MarginLevel.NORMAL
    assert dispatcher.stats().suppressed == 0


def test_a_jump_past_both_levels_is_one_critical_alert() -> None:
    """Going from healthy straight to critical pages once, as CRITICAL."""
    _, emitted = run_path([0.2, 0.95])
    assert severities(emitted) == [Severity.CRITICAL]


def test_easing_from_critical_to_warning_is_announced_once() -> None:
    """Falling back below critical minus the gap sends one WARNING saying it eased."""
    _, emitted = run_path([0.85, 0.74, 0.78, 0.70, 0.60, 0.44])
    assert severities(emitted) == [Severity.CRITICAL, Severity.WARNING, Severity.RESOLVED]
    assert margin_alert(emitted[1]).title == "Margin eased to warning on main"


def test_zero_equity_is_critical_and_nan_changes_nothing() -> None:
    """An account with no equity left is critical; a garbled NaN ratio neither alerts nor clears."""
    state, emitted = run_path([math.nan, 0.6, math.nan, math.inf, math.nan])
    assert severities(emitted) == [Severity.WARNING, Severity.CRITICAL]
    assert state.level is MarginLevel.CRITICAL
    assert "inf" in margin_alert(emitted[1]).body


def test_every_margin_alert_of_an_account_shares_one_key() -> None:
    """Warning, critical and resolved of one account dedupe as one condition, per account."""
    _, emitted = run_path([0.6, 0.9, 0.1])
    assert {margin_alert(t).key for t in emitted} == {"margin.main"}


thresholds_strategy = st.builds(
    lambda warning, spread, gap_fraction: MarginThresholds(
        warning=warning, critical=warning + spread, gap=gap_fraction * min(warning, spread)
    ),
    warning=st.floats(0.05, 0.9),
    spread=st.floats(0.01, 0.5),
    gap_fraction=st.floats(0.0, 0.99),
)


@st.composite
def hovering_paths(draw: st.DrawFn) -> tuple[MarginThresholds, float, list[float]]:
    """Thresholds, a level, and a path wobbling around that level without leaving its band."""
    t = draw(thresholds_strategy)
    level = draw(st.sampled_from([t.warning, t.critical]))
    low = level - t.gap
    high = t.critical if level == t.warning else t.critical + 1.0
    ratios = st.floats(low, high, exclude_max=level == t.warning)
    return t, level, draw(st.lists(ratios, min_size=1, max_size=50))


@given(hovering_paths())
def test_hovering_within_the_gap_after_a_crossing_adds_no_alert(
    case: tuple[MarginThresholds, float, list[float]],
) -> None:
    """Once a level is crossed, wobbling anywhere around it inside its band sends nothing more."""
    thresholds, level, path = case
    state = MarginAlertState(account="a", thresholds=thresholds)
    state, first = run_path([level], state)
    _, more = run_path(path, state)
    assert len(first) == 1
    assert more == []


RANK = {MarginLevel.NORMAL: 0, MarginLevel.WARNING: 1, MarginLevel.CRITICAL: 2}


@given(thresholds_strategy, st.lists(st.floats(0.0, 2.0), max_size=80))
def test_any_path_alerts_only_on_real_level_changes(
    thresholds: MarginThresholds, path: list[float]
) -> None:
    """Each alert changes the level, and an easing alert needs a fall of more than the gap."""
    state = MarginAlertState(account="a", thresholds=thresholds)
    last: AlertTransition | None = None
    for ratio in path:
        previous_level = state.level
        state, transitions = step(state, ratio)
        assert len(transitions) == (0 if state.level is previous_level else 1)
        for t in transitions:
            assert (t.previous, t.level) == (previous_level, state.level)
            eased = RANK[t.level] < RANK[t.previous]
            if eased and last is not None and RANK[last.level] > RANK[last.previous]:
                assert last.ratio - t.ratio > thresholds.gap
            last = t


def test_alerts_use_the_worse_of_now_and_stress_and_state_the_top_up() -> None:
    """Today 30 % but 80 % under stress is critical; the alert says how much collateral to add."""
    from hedgebot.core.margin_alerts import TopUp, alert_ratio

    assert alert_ratio(0.3, 0.8) == 0.8
    assert alert_ratio(0.9, 0.8) == 0.9
    assert alert_ratio(0.3, None) == 0.3
    assert alert_ratio(0.3, float("nan")) == 0.3
    state, [transition] = step(MarginAlertState(account="main/BTC"), alert_ratio(0.3, 0.8))
    assert state.level is MarginLevel.CRITICAL
    top_up = TopUp(
        amount=1.25, currency="BTC", usd=75_000.0, scenario="-15% spot", target_ratio=0.5
    )
    alert = margin_alert(transition, top_up)
    assert alert.fields["top_up"] == "1.250000 BTC"
    assert alert.fields["top_up_usd"] == "75000.00"
    assert "Add 1.2500 BTC (USD 75,000) to hold MM/equity at 50% under -15% spot." in alert.body
