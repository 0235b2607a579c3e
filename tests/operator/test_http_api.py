"""The operator endpoint on a real 127.0.0.1 server: health, readiness, metrics, status, control."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from hedgebot.model.trading import ReasonCode, TradingState, UnderlyingStatus
from hedgebot.model.view import AccountView, TurnView, UnderlyingView
from hedgebot.operator.control_client import (
    ControlError,
    fetch_status,
    render_status_table,
    send_control,
)
from hedgebot.operator.http_api import HealthReport, OperatorServer, ReadinessReport
from hedgebot.operator.metrics import CONTENT_TYPE, TRADING_STATES, Metrics

TOKEN = SecretStr("s3cret-control-token")


def underlying(name: str, **numbers: float) -> UnderlyingView:
    return UnderlyingView(
        underlying=name,
        price=numbers["price"],
        net_delta=numbers["net_delta"],
        delta_with_in_flight=numbers["net_delta"],
        target=0.0,
        band=numbers["band"],
        gamma=1e-5,
        vega=-120.0,
        hedge_instrument=f"{name}-PERPETUAL",
        hedge_orders=int(numbers["hedges"]),
        fills=int(numbers["fills"]),
        decision="hold",
        decision_code=ReasonCode.INSIDE_BAND,
        trading="active",
        status=UnderlyingStatus.ACTIVE,
    )


def account(name: str, currency: str, equity: float, mm: float, im: float) -> AccountView:
    return AccountView(
        account=name,
        venue="deribit",
        currency=currency,
        equity=equity,
        initial_margin=im,
        maintenance_margin=mm,
        available=equity - im,
        maintenance_ratio=mm / equity if equity > 0 else math.inf,
        data_age_s=0.4,
    )


def book_view() -> TurnView:
    """The engine's real /status source, so these tests break if its shape drifts."""
    return TurnView(
        now_ms=1_772_409_600_000,
        mode="paper",
        trading_state=TradingState.ACTIVE,
        underlyings={
            "BTC": underlying("BTC", price=64123.5, net_delta=0.0123, band=0.05, hedges=3, fills=2),
            "ETH": underlying("ETH", price=3100.25, net_delta=-1.5, band=0.8, hedges=0, fills=0),
        },
        accounts=(
            account("deribit-main", "BTC", equity=2.5, mm=0.3125, im=0.75),
            account("empty", "USDC", equity=0.0, mm=0.0, im=0.0),
        ),
        decision_latency_s=0.00042,
    )


class FakeView:
    """A hand-written `OperatorView` whose answers the tests set and whose requests it records."""

    def __init__(self) -> None:
        self.alive = True
        self.ready = True
        self.reasons: list[str] = []
        self.broken = False
        self.halts: list[str] = []
        self.resumes = 0
        self.flattens = 0
        self.snapshot: Mapping[str, object] = book_view().to_dict()

    def health(self) -> HealthReport:
        if self.broken:
            raise RuntimeError("engine state unreadable")
        return HealthReport(alive=self.alive, last_turn_ms=1_700_000_000_000)

    def readiness(self) -> ReadinessReport:
        return ReadinessReport(ready=self.ready, reasons=list(self.reasons))

    def status(self) -> Mapping[str, object]:
        return self.snapshot

    def halt(self, reason: str) -> None:
        self.halts.append(reason)

    def resume(self) -> None:
        self.resumes += 1

    def flatten_hedges(self) -> str:
        self.flattens += 1
        return "closing 2 hedge positions"


@pytest.fixture
def view() -> FakeView:
    return FakeView()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def server(view: FakeView, metrics: Metrics) -> AsyncIterator[OperatorServer]:
    async with OperatorServer(view, metrics, port=0, control_token=TOKEN) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_healthz_follows_the_loop_liveness(
    server: OperatorServer, view: FakeView, http: aiohttp.ClientSession
) -> None:
    """/healthz is 200 while the loop turns, 503 when it stalls or cannot be read."""
    async with http.get(f"{server.url}/healthz") as ok:
        assert (ok.status, await ok.json()) == (200, {"alive": True, "last_turn_ms": 1.7e12})
    view.alive = False
    async with http.get(f"{server.url}/healthz") as stalled:
        assert stalled.status == 503
    view.broken = True
    async with http.get(f"{server.url}/healthz") as broken:
        assert broken.status == 503


async def test_readyz_gives_the_reasons_it_is_not_ready(
    server: OperatorServer, view: FakeView, http: aiohttp.ClientSession
) -> None:
    """/readyz is 503 with the reasons while data is stale or state unreconciled, then 200."""
    view.ready, view.reasons = (
        False,
        ["deribit.ticker stale for 12.0 s", "positions not reconciled"],
    )
    async with http.get(f"{server.url}/readyz") as waiting:
        assert waiting.status == 503
        assert (await waiting.json())["reasons"] == view.reasons
    view.ready, view.reasons = True, []
    async with http.get(f"{server.url}/readyz") as ready:
        assert (ready.status, await ready.json()) == (200, {"ready": True, "reasons": []})


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_scrape_shows_what_the_engine_recorded(
    server: OperatorServer, metrics: Metrics, http: aiohttp.ClientSession
) -> None:
    """A Prometheus scrape of /metrics returns every value the engine recorded, with units."""
    metrics.record_underlying(
        "BTC", net_delta=0.25, target=0.0, band=0.1, price=64000.0, gamma=2e-5, vega=-350.0
    )
    metrics.record_headroom("deribit-main", maintenance_ratio=0.3, available=1.2, equity=2.0)
    for _ in range(3):
        metrics.record_order("BTC")
    metrics.record_fill("BTC", fee_usd=1.5)
    metrics.record_fill("BTC", fee_usd=0.25)
    metrics.record_fill("BTC", fee_usd=-0.5)
    metrics.record_reject("BTC")
    metrics.record_data_age("deribit.ticker", 0.75)
    metrics.observe_decision_latency(120e-6)
    metrics.observe_decision_latency(0.004)
    metrics.record_reconnect("deribit")
    metrics.record_trading_state(TradingState.HALTED)

    async with http.get(f"{server.url}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == CONTENT_TYPE
        values = scrape(await response.text())

    btc, main = (("underlying", "BTC"),), (("account", "deribit-main"),)
    assert values[("hedgebot_net_delta_coin", btc)] == 0.25
    assert values[("hedgebot_target_delta_coin", btc)] == 0.0
    assert values[("hedgebot_band_half_width_coin", btc)] == 0.1
    assert values[("hedgebot_underlying_price_usd", btc)] == 64000.0
    assert values[("hedgebot_net_gamma_coin_per_usd", btc)] == 2e-5
    assert values[("hedgebot_net_vega_usd_per_vol", btc)] == -350.0
    assert values[("hedgebot_margin_maintenance_ratio", main)] == 0.3
    assert values[("hedgebot_margin_available_ccy", main)] == 1.2
    assert values[("hedgebot_margin_equity_ccy", main)] == 2.0
    assert values[("hedgebot_hedge_orders_total", btc)] == 3
    assert values[("hedgebot_hedge_fills_total", btc)] == 3
    assert values[("hedgebot_hedge_rejects_total", btc)] == 1
    assert values[("hedgebot_fees_usd_total", btc)] == 1.75
    assert values[("hedgebot_fee_rebates_usd_total", btc)] == 0.5
    assert values[("hedgebot_data_age_seconds", (("source", "deribit.ticker"),))] == 0.75
    assert values[("hedgebot_reconnects_total", (("venue", "deribit"),))] == 1
    assert values[("hedgebot_decision_latency_seconds_count", ())] == 2
    assert values[("hedgebot_decision_latency_seconds_bucket", (("le", "5e-05"),))] == 0
    assert values[("hedgebot_decision_latency_seconds_bucket", (("le", "0.00025"),))] == 1
    assert values[("hedgebot_decision_latency_seconds_bucket", (("le", "1.0"),))] == 2
    assert values[("hedgebot_last_loop_turn_timestamp_seconds", ())] == pytest.approx(
        time.time(), abs=60
    )
    states = {s: values[("hedgebot_trading_state", (("state", s),))] for s in TRADING_STATES}
    assert states == {"active": 0.0, "reducing": 0.0, "halted": 1.0}
    assert set(TRADING_STATES) == {s.value for s in TradingState}


def test_two_metrics_objects_do_not_share_values() -> None:
    """Each Metrics has its own registry, so two books (or two tests) never mix their numbers."""
    first, second = Metrics(process_collectors=False), Metrics(process_collectors=False)
    first.record_order("BTC")
    assert ("hedgebot_hedge_orders_total", (("underlying", "BTC"),)) in scrape(
        first.render().decode()
    )
    assert ("hedgebot_hedge_orders_total", (("underlying", "BTC"),)) not in scrape(
        second.render().decode()
    )


def test_recording_costs_microseconds() -> None:
    """A loop turn's worth of metric updates takes far less than a millisecond."""
    metrics = Metrics()
    turns = 2_000
    started = time.perf_counter()
    for _ in range(turns):
        metrics.record_underlying(
            "BTC", net_delta=0.1, target=0.0, band=0.1, price=1.0, gamma=0.0, vega=0.0
        )
        metrics.record_headroom("main", maintenance_ratio=0.2, available=1.0, equity=2.0)
        metrics.record_data_age("deribit.ticker", 0.1)
        metrics.observe_decision_latency(1e-4)
    per_turn_s = (time.perf_counter() - started) / turns
    assert per_turn_s < 500e-6


async def test_status_json_and_the_cli_table(server: OperatorServer, view: FakeView) -> None:
    """`hedgebot status` fetches /status and prints one aligned row per underlying and account."""
    status = await asyncio.to_thread(fetch_status, server.url)
    assert status["trading_state"] == "active"
    assert status["accounts"][1]["maintenance_ratio"] == "inf"  # type: ignore[index]
    lines = render_status_table(status).splitlines()
    assert lines[0] == "trading state: active   mode: paper   as of 2026-03-02 00:00:00 UTC"
    btc = next(line for line in lines if line.startswith("BTC"))
    assert btc.split() == ["BTC", "64,123.50", "+0.0123", "+0.0000", "0.0500", "3", "2", "active"]
    main = next(line for line in lines if line.startswith("deribit-main"))
    assert main.split() == ["deribit-main", "BTC", "2.5000", "12.5%", "1.7500"]
    empty = next(line for line in lines if line.startswith("empty"))
    assert empty.split()[3] == "inf"
    header, *rows = lines[2:5]
    assert {len(row) for row in rows} == {len(header) - len("TRADING") + len("active")}


def test_status_table_tolerates_missing_fields() -> None:
    """A partial status (e.g. during start-up) still prints, with dashes for unknown values."""
    table = render_status_table({"underlyings": {"BTC": {"price": 1.0}}})
    assert "trading state: -" in table
    assert "(none)" in table
    assert table.splitlines()[3].split()[2:] == ["-", "-", "-", "-", "-", "-"]


async def test_control_requires_the_bearer_token(
    server: OperatorServer, view: FakeView, http: aiohttp.ClientSession
) -> None:
    """Control without a token is 401, with a wrong token 403, and nothing is halted."""
    async with http.post(f"{server.url}/control/halt") as missing:
        assert missing.status == 401
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = {"Authorization": "Bearer not-the-token"}
    async with http.post(f"{server.url}/control/halt", headers=wrong) as denied:
        assert denied.status == 403
    assert view.halts == []


async def test_control_with_the_token_reaches_the_engine(
    server: OperatorServer, view: FakeView
) -> None:
    """halt (with reason), resume and flatten-hedges each reach the engine once."""
    url = server.url
    halted = await asyncio.to_thread(send_control, url, "halt", TOKEN, reason="vol spike")
    resumed = await asyncio.to_thread(send_control, url, "resume", TOKEN)
    flattened = await asyncio.to_thread(send_control, url, "flatten-hedges", TOKEN)
    assert (view.halts, view.resumes, view.flattens) == (["vol spike"], 1, 1)
    assert halted == "halt requested: vol spike"
    assert resumed == "resume requested"
    assert flattened == "closing 2 hedge positions"


async def test_control_client_reports_a_wrong_token_without_echoing_it(
    server: OperatorServer,
) -> None:
    """The CLI says the token was refused, and never prints the token it sent."""
    with pytest.raises(ControlError) as caught:
        await asyncio.to_thread(send_control, server.url, "halt", "guess-123")
    assert caught.value.status == 403
    assert "guess-123" not in str(caught.value)


async def test_control_is_disabled_without_a_configured_token(
    view: FakeView, metrics: Metrics, http: aiohttp.ClientSession
) -> None:
    """With no control token configured, control answers 403 whatever is sent."""
    async with OperatorServer(view, metrics, port=0) as server:
        headers = {"Authorization": "Bearer anything"}
        async with http.post(f"{server.url}/control/resume", headers=headers) as response:
            assert response.status == 403
    assert view.resumes == 0


async def test_server_binds_loopback_by_default_and_frees_the_port(
    view: FakeView, metrics: Metrics
) -> None:
    """The endpoint listens on 127.0.0.1 unless configured otherwise, and stops on exit."""
    async with OperatorServer(view, metrics, port=0) as server:
        url = server.url
        assert url.startswith("http://127.0.0.1:")
    with pytest.raises(ControlError, match="no daemon answering"):
        await asyncio.to_thread(fetch_status, url, timeout_s=2.0)


def test_the_operator_guide_names_every_status_code() -> None:
    """`/status` carries `decision_code` and `status` as codes: the guide lists every value."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text("utf-8")
    row = next(line for line in guide.splitlines() if line.startswith("| `GET /status`"))
    for code in [*ReasonCode, *UnderlyingStatus]:
        assert f"`{code.value}`" in row, code
