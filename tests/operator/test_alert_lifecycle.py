"""Alerts open and close: every WARNING or CRITICAL gets a RESOLVED under its key when the
condition ends, and every key hedgebot sends (and every runbook link) is in the operator guide."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from hedgebot.clock import SimulatedClock
from hedgebot.core.margin_alerts import MARGIN_RUNBOOK
from hedgebot.daemon.state import BookState
from hedgebot.model import events
from hedgebot.model.alerts import Severity
from hedgebot.model.trading import TradingOrigin, TradingState
from hedgebot.operator.metrics import Metrics
from hedgebot.operator.surface import (
    OperatorSurface,
    alert_keys,
    unmapped_event_kinds,
    unresolvable_keys,
)
from tests.e2e.test_bad_input_daemon import RecordingDispatcher
from tests.support.daemon_harness import settings_for

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operator.md"


@pytest.fixture
def surface_and_alerts(tmp_path: Path) -> tuple[OperatorSurface, RecordingDispatcher]:
    alerts = RecordingDispatcher()
    surface = OperatorSurface(
        settings=settings_for(tmp_path),
        state=BookState(SimulatedClock(0)),
        metrics=Metrics(process_collectors=False),
        alerts=alerts,
        halt=lambda _: None,
        resume=lambda: None,
        flatten=lambda: "",
    )
    return surface, alerts


def test_no_alert_opens_without_a_way_to_resolve() -> None:
    assert unresolvable_keys() == frozenset()


def test_every_event_kind_is_alerted_resolved_or_listed_silent() -> None:
    """The alert maps are keyed by the event enum: a kind nobody decided about is caught."""
    assert unmapped_event_kinds() == frozenset()


def test_the_typed_start_event_releases_ready_and_the_readiness_gate(
    surface_and_alerts: tuple[OperatorSurface, RecordingDispatcher],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing before `DaemonStarted` (the start-up gates passed) says READY; it does, once."""
    surface, alerts = surface_and_alerts
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.setblocking(False)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        surface.on_event(events.OrderAccepted(underlying="BTC"))
        surface.on_event(events.TradingRestored(flags="operator by operator at 1: x"))
        with pytest.raises(BlockingIOError):
            systemd.recv(4096)
        assert not surface.started
        surface.on_event(
            events.DaemonStarted(
                mode="paper", venues="deribit", underlyings="BTC", adopted_orders=0
            )
        )
        assert systemd.recv(4096) == b"READY=1"
    assert surface.started
    assert [a.key for a in alerts.alerts] == ["trading.state", "lifecycle.startup"]


def test_each_condition_opens_once_and_resolves_once(
    surface_and_alerts: tuple[OperatorSurface, RecordingDispatcher],
) -> None:
    surface, alerts = surface_and_alerts
    accepted = events.OrderAccepted(underlying="BTC")
    sequence: list[events.DaemonEvent] = [
        accepted,  # nothing open: nothing sent
        events.OrderRejected(underlying="BTC", client_id="hb1n6", reason="insufficient funds"),
        accepted,
        accepted,  # already resolved
        events.RiskUnvalued(underlying="BTC", reason="no quote for BTC-27MAR26-60000-C"),
        events.RiskValued(underlying="BTC"),
        events.OrderUnknown(underlying="BTC", client_id="hb1n7", reason="timed out"),
        events.OrderFound(underlying="BTC", client_id="hb1n7", status="open"),
        events.GuardHalted(underlying="BTC", reason="3 consecutive rejects"),
        events.TradingStateChanged(
            before=TradingState.ACTIVE,
            after=TradingState.HALTED,
            reason="x",
            origin=TradingOrigin.OPERATOR,
        ),
        events.OperatorResume(),
        events.TradingStateChanged(
            before=TradingState.HALTED,
            after=TradingState.ACTIVE,
            reason="resumed",
            origin=TradingOrigin.OPERATOR,
        ),
    ]
    for event in sequence:
        surface.on_event(event)
    sent = [(a.key, a.severity) for a in alerts.alerts]
    assert sent == [
        ("order.rejected.BTC", Severity.WARNING),
        ("order.rejected.BTC", Severity.RESOLVED),
        ("risk.unvalued.BTC", Severity.WARNING),
        ("risk.unvalued.BTC", Severity.RESOLVED),
        ("order.unknown.BTC", Severity.WARNING),
        ("order.unknown.BTC", Severity.RESOLVED),
        ("hedge.failing.BTC", Severity.CRITICAL),
        ("trading.state", Severity.WARNING),
        ("hedge.failing.BTC", Severity.RESOLVED),
        ("trading.state", Severity.RESOLVED),
    ]


def _placeholders(key: str) -> str:
    """`order.unknown.{underlying}` and `order.unknown.<u>` both read `order.unknown.<>`."""
    return re.sub(r"\{[^}]*\}|<[^>]*>", "<>", key)


def _documented_keys(text: str) -> set[str]:
    return {_placeholders(k) for k in re.findall(r"`([a-z_]+\.[a-z_.<>/{}]*)`", text)}


def test_every_alert_key_is_in_the_operator_guide_and_the_readme_runbook_agrees() -> None:
    guide = _documented_keys(GUIDE.read_text(encoding="utf-8"))
    for key in alert_keys():
        assert _placeholders(key) in guide, f"{key} is not documented in docs/operator.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    runbook = readme[readme.index("### Runbook") :]
    runbook = runbook[: runbook.index("\n## ")]
    sent = {_placeholders(k) for k in alert_keys()} | {"lifecycle.*"}
    for key in _documented_keys(runbook):
        if "." in key and not key.startswith(("hedgebot", "docs")):
            assert key in sent, f"README runbook names {key}, which hedgebot never sends"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def test_every_runbook_link_points_at_a_section_that_exists() -> None:
    anchors = _anchors(GUIDE.read_text(encoding="utf-8"))
    links = set(MARGIN_RUNBOOK.values())
    for path in [*ROOT.glob("hedgebot/**/*.py"), *ROOT.glob("deploy/**/*.y*ml")]:
        links |= set(re.findall(r"docs/operator\.md#[a-z0-9\-]+", path.read_text("utf-8")))
    assert len(links) > 5
    for link in sorted(links):
        assert link.split("#", 1)[1] in anchors, f"{link}: no such section"
