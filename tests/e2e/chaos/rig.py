"""What one scenario runs on: the exchange's book and market, and the daemon's settings.

Owns `scenario_book` (the exchange's default live book, its positions scaled and maybe flipped),
`scenario_market` (the simulated market, thin when partial fills are wanted), `daemon_environ`
(config/deribit-local.toml overridden for a short scenario, as HEDGEBOT__* variables, the way an
operator would: the same mapping serves the in-process daemon and the subprocess) and
`HedgeLimits` (band and max order per currency, as the invariants need them).

It must not start anything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

from hedgebot.venues.sim.settings import BookSettings, MarketSettings
from hedgebot_localvenues.deribit.book_config import SeedPosition, SimBook, live_book
from hedgebot_localvenues.deribit.server import DeribitSimServer
from tests.e2e.chaos.scenarios import FaultKind, Scenario

CONFIG = Path(__file__).resolve().parents[3] / "config" / "deribit-local.toml"
API_KEY, API_SECRET = "sim-main", "sim-main-secret"
ACCOUNT = "main"


@dataclass(frozen=True, slots=True, kw_only=True)
class HedgeLimits:
    """Band half-width and max order of one hedged currency, in coin."""

    band: float
    max_order: float


LIMITS = {
    "BTC": HedgeLimits(band=0.25, max_order=5.0),
    "ETH": HedgeLimits(band=2.0, max_order=60.0),
}
"""As in config/deribit-local.toml (the campaign does not override them)."""


def _step(symbol: str) -> float:
    if symbol.endswith(("-C", "-P")):
        return 0.1 if symbol.startswith("BTC") else 1.0
    return 10.0


def scenario_book(scenario: Scenario, now: dt.datetime) -> SimBook:
    """The default live book starting `now`, its main account's positions times the scale."""
    book = live_book(now)
    main = book.accounts[ACCOUNT]
    positions = []
    for position in main.positions:
        step = _step(position.symbol)
        amount = round(position.amount * scenario.book_scale / step) * step
        positions.append(SeedPosition(symbol=position.symbol, amount=amount, price=position.price))
    accounts = {**book.accounts, ACCOUNT: main.model_copy(update={"positions": positions})}
    return book.model_copy(update={"accounts": accounts})


def exchange_start(scenario: Scenario, now: dt.datetime) -> dt.datetime:
    """When the exchange's simulated clock starts. A price gap jumps that clock forward, so it
    starts that far behind wall time and the jump lands it on wall time: the gap moves prices
    without leaving the venue's clock hours ahead of the daemon's (a different fault)."""
    gap = scenario.fault(FaultKind.PRICE_GAP)
    return now if gap is None else now - dt.timedelta(hours=float(gap.params["hours"]))


def scenario_market(scenario: Scenario) -> MarketSettings:
    """The simulated market of a scenario: seeded by it, thin if it wants partial fills."""
    market = MarketSettings(seed=scenario.seed)
    partial = scenario.fault(FaultKind.PARTIAL)
    if partial is not None:
        depth = float(partial.params["top_depth_usd"])
        market = replace(market, book=BookSettings(top_depth_usd=depth, depth_growth=1.2))
    return market


def daemon_environ(server: DeribitSimServer, state_dir: Path, scenario: Scenario) -> dict[str, str]:
    """HEDGEBOT__* overrides of config/deribit-local.toml for one scenario against `server`."""
    environ = {
        "HEDGEBOT__MODE": "live",
        "HEDGEBOT__STATE_DIR": str(state_dir),
        "HEDGEBOT__LOOP_INTERVAL_S": "0.25",
        "HEDGEBOT__VENUES__DERIBIT__REST_URL": server.url,
        "HEDGEBOT__VENUES__DERIBIT__WS_URL": server.ws_url,
        "HEDGEBOT__VENUES__DERIBIT__STALE_AFTER_S": "3",
        "HEDGEBOT__VENUES__DERIBIT__RECONCILE_INTERVAL_S": "5",
        "HEDGEBOT__VENUES__DERIBIT__KEEPALIVE_MS": "2000",
        "HEDGEBOT__VENUES__DERIBIT__API_KEY": API_KEY,
        "HEDGEBOT__VENUES__DERIBIT__API_SECRET": API_SECRET,
        "HEDGEBOT__GUARDS__MAX_DATA_AGE_S": "5",
        "HEDGEBOT__HTTP__ENABLED": "false",
        "HEDGEBOT__LOG__LEVEL": "info",
        "HEDGEBOT__LOG__FORMAT": "json",
    }
    partial = scenario.fault(FaultKind.PARTIAL)
    slippage = None if partial is None else partial.params.get("slippage_bps")
    for underlying in LIMITS:
        prefix = f"HEDGEBOT__HEDGES__{underlying}__"
        environ[prefix + "COOLDOWN_S"] = "0.5"
        environ[prefix + "ORDER_TIMEOUT_S"] = "4"
        if slippage is not None:
            environ[prefix + "SLIPPAGE_BPS"] = str(slippage)
    return environ
