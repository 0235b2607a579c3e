"""A real sell-off replayed minute by minute against the simulated venue's ledger: the margin
warning, the critical alert and REDUCING all arrive before the simulated liquidation.

Price: FTX BTC-PERP 1-minute closes, 2022-01-20 to 2022-01-22 (the 21 January fall, worst 24 h
−12.7 %; tests/data/README.md). FTX recorded no implied vol, so vol follows the relation recorded
on Deribit during the 2026-02-05 sell-off (tests/core/test_stress.py): +21.6 vol points at 30 days
per 10 % fall from the running high, spread over expiries by the square-root-of-time shape.

Book: 10 short 30-day ATM BTC straddles on 7.5 BTC of Deribit-style coin margin (the simulated
venue's standard margin), the options' delta hedged with the inverse perpetual once at the start
and never rebalanced; the collateral stays long BTC (count_collateral = false). Alerts use the
shipped defaults: warning at 50 %, critical at 75 % MM/equity; REDUCING comes from the real
`Gatekeeper` at 80 % of today's MM/equity; the simulated venue liquidates at 100 %. Margin alerts
are evaluated once on today's MM/equity alone, and once as the daemon does, on the worse of today's
and the stressed MM/equity (default scenario −15 % with +25 vol points at 30 days).
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from hedgebot.config import GuardSettings, MarginSettings
from hedgebot.core.greeks import black76
from hedgebot.core.guards import GuardLimits
from hedgebot.core.margin_alerts import (
    MarginAlertState,
    MarginLevel,
    MarginThresholds,
    alert_ratio,
    step,
)
from hedgebot.core.margin_model import MarginRates as SimMargin
from hedgebot.core.risk import AccountBook, BookSnapshot, assess
from hedgebot.core.shocks import exposure
from hedgebot.core.stress import TenorVolShock, stress_line
from hedgebot.daemon.gatekeeper import Gatekeeper
from hedgebot.model.instruments import (
    Instrument,
    InstrumentKey,
    Kind,
    OptionType,
    Settlement,
    years_between,
)
from hedgebot.model.market import Quote
from hedgebot.model.view import AccountView
from hedgebot.venues.sim.accounts import AccountSeed
from hedgebot.venues.sim.ledger import Ledger
from hedgebot.venues.sim.settings import FeeSettings

PATH = Path(__file__).parents[1] / "data" / "price_history" / "ftx_btc-perp_1m_2022-01-20_24.csv"
IV0 = 0.60
VOL_PER_FALL = 2.16
"""Vol points (as a fraction) at 30 days per unit fall from the high: +21.6 per 10 %."""
CONTRACTS = 10.0
COLLATERAL = 7.5
DAY_MS = 86_400_000
HEDGE_COLLATERAL = False
"""The operator keeps the coin collateral long BTC and hedges the options' delta only."""
CALL_STRIKE = PUT_STRIKE = 1.0


def load_path() -> list[tuple[int, float]]:
    """(ms, close) per minute."""
    with PATH.open() as f:
        return [
            (
                int(
                    dt.datetime.strptime(r["timestamp"], "%Y-%m-%d %H:%M")
                    .replace(tzinfo=dt.UTC)
                    .timestamp()
                    * 1000
                ),
                float(r["close"]),
            )
            for r in csv.DictReader(f)
        ]


@dataclass
class Market:
    """Quotes of the replay: the perp at the close, options by Black-76 on the close."""

    spot: float
    now_ms: int
    high: float
    instruments: dict[InstrumentKey, Instrument]

    def iv(self, instrument: Instrument) -> float:
        """Vol rises with the fall from the running high, more at short expiries."""
        tau = years_between(self.now_ms, instrument.expiry_ms or self.now_ms)
        fall = max(0.0, 1.0 - self.spot / self.high)
        shift = TenorVolShock(points=VOL_PER_FALL * fall).shift(np.array([tau]))
        return IV0 + float(shift[0])

    def quote(self, instrument: Instrument) -> Quote:
        """The instrument's mark now."""
        mark, iv = self.spot, None
        if instrument.kind is Kind.OPTION:
            iv = self.iv(instrument)
            tau = years_between(self.now_ms, instrument.expiry_ms or self.now_ms)
            price = black76(
                self.spot,
                instrument.strike or 0.0,
                tau,
                iv,
                instrument.option_type is OptionType.CALL,
            ).price
            mark = float(price) / self.spot
        return Quote(
            key=instrument.key,
            timestamp_ms=self.now_ms,
            bid=0.0,
            ask=0.0,
            mark_price=mark,
            underlying_price=self.spot,
            mark_iv=iv,
        )


@dataclass
class Replay:
    """When each signal first arrived (ms), and the liquidation."""

    warning_ms: int | None = None
    critical_ms: int | None = None
    reducing_ms: int | None = None
    liquidation_ms: int | None = None
    start_stress_ratio: float = 0.0
    start_top_up: float = 0.0

    def lead_minutes(self, at_ms: int | None) -> float:
        """Minutes from a signal to the liquidation."""
        assert at_ms is not None
        assert self.liquidation_ms is not None
        return (self.liquidation_ms - at_ms) / 60_000


def instruments(start_ms: int, spot: float) -> dict[InstrumentKey, Instrument]:
    """The perpetual and the 30-day ATM call and put (strike rounded to 1,000)."""
    expiry = start_ms + 30 * DAY_MS
    perp = Instrument(
        venue="sim",
        symbol="BTC-PERPETUAL",
        underlying="BTC",
        kind=Kind.PERPETUAL,
        settlement=Settlement.INVERSE,
        contract_size=10.0,
    )
    options = [
        Instrument(
            venue="sim",
            symbol=f"BTC-30D-{strike}-{kind.value[0].upper()}",
            underlying="BTC",
            kind=Kind.OPTION,
            settlement=Settlement.INVERSE,
            strike=float(strike),
            option_type=kind,
            expiry_ms=expiry,
            contract_size=0.1,
        )
        for kind, strike in (
            (OptionType.CALL, round(spot * CALL_STRIKE / 1000) * 1000),
            (OptionType.PUT, round(spot * PUT_STRIKE / 1000) * 1000),
        )
    ]
    return {i.key: i for i in (perp, *options)}


def replay(collateral: float = COLLATERAL, *, stressed_alerts: bool = True) -> Replay:
    """Run the sell-off through the ledger and the alert rules; see the module docstring."""
    path = load_path()
    start_ms, s0 = path[0]
    table = instruments(start_ms, s0)
    market = Market(spot=s0, now_ms=start_ms, high=s0, instruments=table)
    options = [k.symbol for k, i in table.items() if i.kind is Kind.OPTION]
    seed = AccountSeed(
        collateral={"BTC": collateral}, positions=[(s, -CONTRACTS, 0.0) for s in options]
    )
    ledger = Ledger(
        venue="sim",
        instruments=lambda key: table[key],
        marks=market.quote,
        fees=FeeSettings(),
        margin=SimMargin(),
        latency_ms=0,
        accounts={"a": seed},
    )
    # hedge USD-neutral once: short the book's coin delta (collateral counted) in perp USD face
    snapshot = ledger.accounts.snapshot("a", start_ms)
    book = AccountBook(
        account="a",
        positions=snapshot.positions,
        collateral=snapshot.collateral,
        margin=snapshot.margin,
        count_collateral=HEDGE_COLLATERAL,
    )
    quotes = {k: market.quote(i) for k, i in table.items()}
    delta = assess(
        BookSnapshot(
            books=[book],
            instruments=table,
            quotes=quotes,
            index_prices={"BTC": s0},
            now_ms=start_ms,
        )
    ).underlyings["BTC"]
    perp = ledger.accounts.instrument(next(k for k, i in table.items() if i.kind is Kind.PERPETUAL))
    face = round(delta.net_delta * s0 / 10.0) * 10.0
    ledger.accounts.apply_trade("a", perp, -face, s0, 0.0)

    margin_settings = MarginSettings()
    stress = margin_settings.stress_scenario()
    thresholds = MarginThresholds(
        warning=margin_settings.warning_ratio,
        critical=margin_settings.critical_ratio,
        gap=margin_settings.hysteresis,
    )
    alerts = MarginAlertState(account="a", thresholds=thresholds)
    guards = GuardSettings()
    gatekeeper = Gatekeeper(
        limits=GuardLimits(
            max_data_age_s=guards.max_data_age_s,
            max_notional_per_minute_usd=guards.max_notional_per_minute_usd,
            max_notional_per_hour_usd=guards.max_notional_per_hour_usd,
            max_orders_per_minute=guards.max_orders_per_minute,
            max_consecutive_rejects=guards.max_consecutive_rejects,
            max_hedge_position={"BTC": 1_000.0},
            max_abs_net_delta_usd=guards.kill_abs_net_delta_usd,
            max_maintenance_ratio=guards.kill_maintenance_ratio,
        ),
        reducing_ratio=margin_settings.reducing_ratio,
        notify=lambda event: None,
    )
    result = Replay()
    for n, (now_ms, close) in enumerate(path):
        market.now_ms, market.spot = now_ms, close
        market.high = max(market.high, close)
        if ledger.liquidate_due(now_ms):
            result.liquidation_ms = now_ms
            break
        snapshot = ledger.accounts.snapshot("a", now_ms)
        [state] = snapshot.margin
        book = AccountBook(
            account="a",
            positions=snapshot.positions,
            collateral=snapshot.collateral,
            margin=snapshot.margin,
        )
        quotes = {k: market.quote(i) for k, i in table.items()}
        exp = exposure(
            BookSnapshot(
                books=[book],
                instruments=table,
                quotes=quotes,
                index_prices={"BTC": close},
                now_ms=now_ms,
            ),
            underlying="BTC",
        )
        stressed = stress_line(exp, 0, stress)
        assert stressed is not None
        if n == 0:
            result.start_stress_ratio = stressed.maintenance_ratio
            result.start_top_up = stressed.top_up
        worst = stressed.maintenance_ratio if stressed_alerts else None
        alerts, _ = step(alerts, alert_ratio(state.maintenance_ratio, worst))
        if alerts.level is MarginLevel.WARNING and result.warning_ms is None:
            result.warning_ms = now_ms
        if alerts.level is MarginLevel.CRITICAL and result.critical_ms is None:
            result.critical_ms = now_ms
        risk = assess(
            BookSnapshot(
                books=[book],
                instruments=table,
                quotes=quotes,
                index_prices={"BTC": close},
                now_ms=now_ms,
            )
        )
        view = AccountView(
            account="a",
            venue="sim",
            currency="BTC",
            equity=state.equity,
            initial_margin=state.initial_margin,
            maintenance_margin=state.maintenance_margin,
            available=state.available,
            maintenance_ratio=state.maintenance_ratio,
            data_age_s=0.0,
        )
        trading = gatekeeper.after_turn(risk, [view], now_ms)
        if trading == "reducing" and result.reducing_ms is None:
            result.reducing_ms = now_ms
    return result


@pytest.fixture(scope="module")
def sell_off() -> Replay:
    """The replay on today's MM/equity alone, run once for the module."""
    return replay(COLLATERAL, stressed_alerts=False)


def test_warning_critical_and_reducing_arrive_before_the_liquidation(sell_off: Replay) -> None:
    """On today's MM/equity alone, each signal comes in order, hours ahead of the liquidation
    (README.md, 'Margin', quotes these lead times)."""
    assert sell_off.warning_ms is not None
    assert sell_off.critical_ms is not None
    assert sell_off.reducing_ms is not None
    assert sell_off.liquidation_ms is not None
    assert start(sell_off) < sell_off.warning_ms < sell_off.critical_ms < sell_off.reducing_ms
    assert sell_off.reducing_ms < sell_off.liquidation_ms
    leads = tuple(
        sell_off.lead_minutes(at)
        for at in (sell_off.warning_ms, sell_off.critical_ms, sell_off.reducing_ms)
    )
    assert leads == (2188.0, 738.0, 736.0)


def test_stress_alert_comes_first_and_its_top_up_survives_the_sell_off(sell_off: Replay) -> None:
    """Evaluated under the stress scenario the book is critical from the first minute, 58 hours
    before the liquidation; adding the top-up that alert states carries it through the same
    sell-off without liquidation."""
    stressed = replay(COLLATERAL, stressed_alerts=True)
    assert stressed.liquidation_ms == sell_off.liquidation_ms
    assert stressed.critical_ms == start(sell_off)
    assert sell_off.warning_ms is not None
    assert stressed.critical_ms < sell_off.warning_ms
    assert stressed.start_stress_ratio > MarginSettings().critical_ratio
    assert round(stressed.start_top_up, 2) == 3.18
    assert stressed.lead_minutes(stressed.critical_ms) == 3486.0  # 58 h 06 min
    topped = replay(COLLATERAL + stressed.start_top_up, stressed_alerts=True)
    assert topped.liquidation_ms is None
    assert topped.start_stress_ratio == pytest.approx(MarginSettings().stress_target_ratio)


def start(replayed: Replay) -> int:
    """The first minute of the replay."""
    del replayed
    return load_path()[0][0]
