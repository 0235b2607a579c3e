"""Alert delivery through real apprise `json://` channels to a real webhook on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from hedgebot.clock import SimulatedClock
from hedgebot.model.alerts import Alert, Severity
from hedgebot.operator.alert_channels import mask_url
from hedgebot.operator.alerts import AlertDispatcher, DispatcherOptions
from tests.support.webhook_receiver import WebhookReceiver, dead_port, running_receiver

FAST_RETRY = DispatcherOptions(retry_base_s=0.01, retry_max_s=0.02, max_attempts=3)


def alert(
    key: str = "feed.stale", severity: Severity = Severity.WARNING, title: str = "t"
) -> Alert:
    return Alert(key=key, severity=severity, title=title, body="body", fields={"source": "x"})


def secrets(*urls: str) -> list[SecretStr]:
    return [SecretStr(u) for u in urls]


def logged_text(entries: Iterable[object]) -> str:
    return repr(list(entries))


async def test_good_channel_receives_while_dead_channel_is_retried_then_abandoned() -> None:
    """An alert reaches the working webhook while the dead channel is retried, logged by index."""
    async with running_receiver(WebhookReceiver()) as receiver:
        with dead_port() as port, capture_logs() as logs:
            dead_url = f"json://127.0.0.1:{port}/hook/dead-secret-456"
            dispatcher = AlertDispatcher(secrets(receiver.url(), dead_url), options=FAST_RETRY)
            runner = asyncio.create_task(dispatcher.run())
            dispatcher.submit(
                Alert(
                    key="margin.main",
                    severity=Severity.CRITICAL,
                    title="Margin CRITICAL on main",
                    body="MM is 85% of equity",
                    fields={"account": "main", "mm_ratio": "0.8500"},
                )
            )
            await receiver.wait_for(accepted=1)
            await dispatcher.aclose(timeout_s=5.0)
            await runner

    body = receiver.accepted[0]
    assert body["title"] == "[CRITICAL] Margin CRITICAL on main"
    assert body["message"] == "MM is 85% of equity\naccount: main\nmm_ratio: 0.8500"
    assert body["type"] == "failure"
    good, dead = dispatcher.stats().channels
    assert (good.delivered, good.failed_attempts) == (1, 0)
    assert (dead.delivered, dead.failed_attempts, dead.abandoned) == (0, 3, 1)
    failures = [e for e in logs if e["event"] == "alert.delivery_failed"]
    assert [(e["channel"], e["attempt"]) for e in failures] == [(1, 1), (1, 2), (1, 3)]
    text = logged_text(logs)
    assert "dead-secret-456" not in text
    assert str(port) not in text


async def test_flaky_channel_delivers_after_backoff_retries() -> None:
    """A webhook that fails twice still gets the alert, on the third attempt."""
    async with running_receiver(WebhookReceiver(fail_first=2)) as receiver:
        options = DispatcherOptions(retry_base_s=0.01, retry_max_s=0.05, max_attempts=5)
        dispatcher = AlertDispatcher(secrets(receiver.url()), options=options)
        runner = asyncio.create_task(dispatcher.run())
        dispatcher.submit(alert())
        await receiver.wait_for(accepted=1)
        await dispatcher.aclose()
        await runner
    assert receiver.posts == 3
    (stats,) = dispatcher.stats().channels
    assert (stats.delivered, stats.failed_attempts, stats.abandoned) == (1, 2, 0)


def test_backoff_doubles_up_to_the_cap() -> None:
    """Retry delays grow exponentially from the base and stop growing at the maximum."""
    options = DispatcherOptions(retry_base_s=1.0, retry_max_s=10.0)
    assert [options.backoff_s(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_same_key_and_severity_is_rate_limited_but_severity_changes_pass() -> None:
    """Repeats of one condition are suppressed within the window; escalations always go out."""
    clock = SimulatedClock(start_ms=0)
    options = DispatcherOptions(rate_limit_s=60.0)
    async with running_receiver(WebhookReceiver()) as receiver:
        dispatcher = AlertDispatcher(secrets(receiver.url()), options=options, clock=clock)
        dispatcher.submit(alert("k", Severity.WARNING, "first"))
        dispatcher.submit(alert("k", Severity.WARNING, "repeat inside window"))
        dispatcher.submit(alert("other", Severity.WARNING, "other key"))
        clock.advance(61.0)
        dispatcher.submit(alert("k", Severity.WARNING, "repeat after window"))
        dispatcher.submit(alert("k", Severity.CRITICAL, "escalation"))
        dispatcher.submit(alert("k", Severity.CRITICAL, "repeat escalation"))
        dispatcher.submit(alert("k", Severity.RESOLVED, "recovery"))
        await dispatcher.aclose()
    assert receiver.titles() == [
        "[WARNING] first",
        "[WARNING] other key",
        "[WARNING] repeat after window",
        "[CRITICAL] escalation",
        "[RESOLVED] recovery",
    ]
    stats = dispatcher.stats()
    assert (stats.submitted, stats.suppressed) == (5, 2)


async def test_full_queue_drops_the_oldest_info_first() -> None:
    """When a channel's queue is full the oldest INFO goes, never a pending CRITICAL."""
    options = DispatcherOptions(queue_size=3)
    async with running_receiver(WebhookReceiver()) as receiver:
        dispatcher = AlertDispatcher(secrets(receiver.url()), options=options)
        dispatcher.submit(alert("a", Severity.INFO, "old info"))
        dispatcher.submit(alert("b", Severity.CRITICAL, "critical b"))
        dispatcher.submit(alert("c", Severity.INFO, "new info"))
        dispatcher.submit(alert("d", Severity.CRITICAL, "critical d"))
        dispatcher.submit(alert("e", Severity.CRITICAL, "critical e"))
        await dispatcher.aclose()
    assert receiver.titles() == [
        "[CRITICAL] critical b",
        "[CRITICAL] critical d",
        "[CRITICAL] critical e",
    ]
    assert dispatcher.stats().dropped == 2


async def test_submit_returns_at_once_even_when_every_channel_is_dead() -> None:
    """A burst of alerts costs the caller microseconds each, whatever the channels do."""
    with dead_port() as port:
        dispatcher = AlertDispatcher(
            secrets(f"json://127.0.0.1:{port}/x"),
            options=DispatcherOptions(queue_size=64, rate_limit_s=0.0),
        )
        runner = asyncio.create_task(dispatcher.run())
        started = time.perf_counter()
        for i in range(5_000):
            dispatcher.submit(alert(f"k{i}", Severity.INFO))
        per_submit_s = (time.perf_counter() - started) / 5_000
        await dispatcher.aclose(timeout_s=0.1)
        await runner
    # a delivery attempt costs milliseconds to seconds; a submit, even on a loaded machine
    # logging a drop each time, stays far below (idle it is under 200 µs)
    assert per_submit_s < 2e-3
    assert dispatcher.stats().dropped >= 5_000 - 64 - 1


async def test_aclose_gives_up_after_its_timeout_on_a_hanging_channel() -> None:
    """Shutdown is never held hostage by a webhook that does not answer."""
    release = asyncio.Event()

    class HangingReceiver(WebhookReceiver):
        async def handle(self, request: object) -> object:  # type: ignore[override]
            await release.wait()
            return await super().handle(request)  # type: ignore[arg-type]

    async with running_receiver(HangingReceiver()) as receiver:
        dispatcher = AlertDispatcher(secrets(receiver.url()))
        runner = asyncio.create_task(dispatcher.run())
        dispatcher.submit(alert("a"))
        dispatcher.submit(alert("b"))
        with capture_logs() as logs:
            started = time.perf_counter()
            await dispatcher.aclose(timeout_s=0.2)
            elapsed = time.perf_counter() - started
        await runner
        release.set()
    assert elapsed < 2.0
    assert {"event": "alert.flush_incomplete", "pending": 2, "log_level": "warning"} in logs


async def test_submit_after_close_is_counted_not_raised() -> None:
    """Alerts raised during shutdown are counted as suppressed rather than crashing the caller."""
    dispatcher = AlertDispatcher([])
    await dispatcher.aclose()
    dispatcher.submit(alert())
    assert dispatcher.stats().suppressed == 1


def test_invalid_url_is_reported_without_its_secret() -> None:
    """A mistyped channel URL fails at start-up with its index and scheme, never its token."""
    with pytest.raises(ValueError, match=r"channel 1 \(nope://\*\*\*\)") as caught:
        AlertDispatcher(secrets("json://127.0.0.1:1/ok", "nope://bot-token-789@chat"))
    assert "bot-token-789" not in str(caught.value)


def test_mask_url_keeps_only_the_scheme() -> None:
    """Masked URLs say what kind of channel it is and nothing else."""
    assert mask_url(SecretStr("tgram://123456:ABC-secret/987")) == "tgram://***"
    assert mask_url("no scheme here") == "***"


def test_alert_fields_are_frozen_copies() -> None:
    """An alert cannot change after it was submitted, even if the caller's dict does."""
    source = {"a": "1"}
    frozen = Alert(key="k", severity=Severity.INFO, title="t", fields=source)
    source["a"] = "2"
    assert frozen.fields == {"a": "1"}
    with pytest.raises(TypeError):
        frozen.fields["a"] = "3"  # type: ignore[index]
