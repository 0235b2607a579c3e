"""Accounting of the sim/paper ledger: inverse P&L, funding, expiry and Deribit-like margin."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from hedgebot.clock import SimulatedClock
from hedgebot.model.account import AccountSnapshot, MarginState
from hedgebot.model.errors import OrderRejected
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.market import Quote
from hedgebot.model.orders import Fill, OrderRequest, Side
from hedgebot.venues.sim import (
    BTC,
    AccountSeed,
    FeeSettings,
    MarketSettings,
    PaperExchange,
    SimulatedExchange,
    sim_instrument,
)

START_MS = MarketSettings().start_ms
NO_FEES = FeeSettings(future_taker=0.0, spot_taker=0.0, option_rate=0.0)
PERP = InstrumentKey("paper", "BTC-PERPETUAL")


def _paper(
    seed: AccountSeed, symbols: tuple[str, ...] = ("BTC-PERPETUAL",)
) -> tuple[PaperExchange, SimulatedClock]:
    clock = SimulatedClock(START_MS)
    venue = PaperExchange(
        venue="paper",
        clock=clock,
        instruments=[sim_instrument("paper", s) for s in symbols],
        accounts={"acc": seed},
        fees=NO_FEES,
        latency_ms=0,
    )
    return venue, clock


def _perp_quote(price: float, clock: SimulatedClock, funding: float | None = None) -> Quote:
    return Quote(
        key=PERP,
        timestamp_ms=clock.now_ms(),
        bid=price,
        ask=price,
        mark_price=price,
        underlying_price=price,
        funding_rate_8h=funding,
    )


def _order(
    client_id: str, key: InstrumentKey, side: Side, amount: float, price: float
) -> OrderRequest:
    return OrderRequest(
        client_id=client_id, account="acc", key=key, side=side, amount=amount, limit_price=price
    )


def _margin(snapshot: AccountSnapshot, currency: str) -> MarginState:
    return next(m for m in snapshot.margin if m.currency == currency)


@pytest.mark.parametrize("exit_price", [55_000, 45_000])
async def test_inverse_perp_pnl_is_convex_in_coin(exit_price: float) -> None:
    """Long 10,000 USD of BTC-PERPETUAL from 50k to 55k gains 10000·(1/50000 − 1/55000) BTC;
    the same 10% down loses more coin than that (the inverse contract's convexity)."""
    venue, clock = _paper(AccountSeed(collateral={"BTC": 1.0}))
    broker = venue.broker("acc")
    venue.on_quote(_perp_quote(50_000, clock))
    await broker.submit(_order("open", PERP, Side.BUY, 10_000, 50_000))
    venue.on_quote(_perp_quote(50_000, clock))
    opened = await broker.snapshot()
    assert opened.positions[0].amount == 10_000
    assert opened.positions[0].average_price == 50_000
    venue.on_quote(_perp_quote(exit_price, clock))
    pnl = 10_000 * (1 / 50_000 - 1 / exit_price)
    assert _margin(await broker.snapshot(), "BTC").equity == pytest.approx(1.0 + pnl, rel=1e-12)
    await broker.submit(_order("close", PERP, Side.SELL, 10_000, exit_price))
    venue.on_quote(_perp_quote(exit_price, clock))
    closed = await broker.snapshot()
    assert closed.positions == ()
    assert closed.collateral["BTC"] == pytest.approx(1.0 + pnl, rel=1e-12)
    linear_approximation = 10_000 * (exit_price - 50_000) / 50_000**2
    assert pnl < linear_approximation


async def test_inverse_average_entry_is_harmonic() -> None:
    """Adding to an inverse position averages entries by coin (total USD over total coin)."""
    venue, clock = _paper(AccountSeed(collateral={"BTC": 1.0}))
    broker = venue.broker("acc")
    for index, price in enumerate((40_000, 60_000)):
        venue.on_quote(_perp_quote(price, clock))
        await broker.submit(_order(f"b{index}", PERP, Side.BUY, 12_000, price))
        venue.on_quote(_perp_quote(price, clock))
    position = (await broker.snapshot()).positions[0]
    assert position.average_price == pytest.approx(24_000 / (12_000 / 40_000 + 12_000 / 60_000))


def _funded_exchange(premium: float) -> tuple[SimulatedExchange, SimulatedClock]:
    btc = dataclasses.replace(BTC, perp_premium_mean=premium, perp_premium_std=0.0)
    settings = MarketSettings(underlyings=(btc,))
    clock = SimulatedClock(settings.start_ms)
    seeds = {
        "long": AccountSeed(collateral={"BTC": 1.0}, positions=[("BTC-PERPETUAL", 30_000, 0)]),
        "short": AccountSeed(collateral={"BTC": 1.0}, positions=[("BTC-PERPETUAL", -30_000, 0)]),
    }
    exchange = SimulatedExchange(
        venue="sim", clock=clock, market=settings, accounts=seeds, symbols=("BTC-PERPETUAL",)
    )
    return exchange, clock


@pytest.mark.parametrize("premium", [0.002, -0.001])
async def test_funding_moves_from_longs_to_shorts_when_the_premium_is_positive(
    premium: float,
) -> None:
    """Every 8 hours longs pay shorts rate·N/mark coin when the perp trades above spot (and
    receive it when below); nothing moves before the funding time."""
    exchange, clock = _funded_exchange(premium)
    long, short = exchange.broker("long"), exchange.broker("short")
    clock.advance(8 * 3600 - 1)
    assert (await long.snapshot()).collateral["BTC"] == 1.0
    clock.advance(1)
    quote = exchange.quote("BTC-PERPETUAL")
    assert quote.funding_rate_8h == pytest.approx(premium)
    payment = premium * 30_000 / quote.mark_price
    assert (await long.snapshot()).collateral["BTC"] == pytest.approx(1.0 - payment, rel=1e-9)
    assert (await short.snapshot()).collateral["BTC"] == pytest.approx(1.0 + payment, rel=1e-9)


async def test_short_option_raises_initial_and_maintenance_margin() -> None:
    """Selling a call adds IM = (max(0.15 − OTM/F, 0.1) + mark)·size and MM = (0.075 + mark)·size
    to a coin account."""
    settings = MarketSettings(seed=3)
    clock = SimulatedClock(settings.start_ms)
    symbol = "BTC-27MAR26-70000-C"
    exchange = SimulatedExchange(
        venue="sim",
        clock=clock,
        market=settings,
        accounts={"acc": AccountSeed(collateral={"BTC": 2.0})},
        symbols=(symbol,),
    )
    broker = exchange.broker("acc")
    before = _margin(await broker.snapshot(), "BTC")
    assert (before.initial_margin, before.maintenance_margin) == (0.0, 0.0)
    bid = exchange.quote(symbol).bid
    await broker.submit(_order("sell", InstrumentKey("sim", symbol), Side.SELL, 1.0, bid))
    clock.advance(1)
    quote = exchange.quote(symbol)
    after = _margin(await broker.snapshot(), "BTC")
    out_of_money = max(70_000 - quote.underlying_price, 0.0) / quote.underlying_price
    assert after.initial_margin == pytest.approx(max(0.15 - out_of_money, 0.1) + quote.mark_price)
    assert after.maintenance_margin == pytest.approx(0.075 + quote.mark_price)
    assert after.equity == pytest.approx(
        2.0 + bid - quote.mark_price - _fees(await broker.fills_since(0))
    )


def _fees(fills: Sequence[Fill]) -> float:
    return sum(f.fee for f in fills)


async def test_order_breaching_margin_is_refused_unless_it_reduces_risk() -> None:
    """An order whose projected IM exceeds equity is refused; one that reduces risk is not.

    The account sits between maintenance and initial margin (short an ITM call marked about
    0.114 BTC: MM 0.189, IM 0.264 against equity 0.216), so it is not liquidated."""
    settings = MarketSettings(seed=3)
    clock = SimulatedClock(settings.start_ms)
    symbol = "BTC-27MAR26-60000-C"
    exchange = SimulatedExchange(
        venue="sim",
        clock=clock,
        market=settings,
        accounts={"acc": AccountSeed(collateral={"BTC": 0.33}, positions=[(symbol, -1.0, 0.1)])},
        symbols=(symbol, "BTC-PERPETUAL"),
    )
    broker = exchange.broker("acc")
    state = _margin(await broker.snapshot(), "BTC")
    assert state.maintenance_margin < state.equity < state.initial_margin
    key = InstrumentKey("sim", symbol)
    quote = exchange.quote(symbol)
    with pytest.raises(OrderRejected, match="insufficient margin"):
        await broker.submit(_order("more", key, Side.SELL, 1.0, quote.bid))
    perp = exchange.quote("BTC-PERPETUAL")
    with pytest.raises(OrderRejected, match="insufficient margin"):
        await broker.submit(_order("perp", perp.key, Side.BUY, 100_000, perp.ask))
    await broker.submit(_order("less", key, Side.BUY, 0.5, quote.ask))
    clock.advance(1)
    assert (await broker.snapshot()).positions[0].amount == pytest.approx(-0.5)


async def test_options_and_futures_settle_at_expiry() -> None:
    """At 08:00 UTC on expiry day options pay their intrinsic value in coin and futures their
    P&L; the positions disappear, open orders are cancelled and quotes stop."""
    settings = MarketSettings(seed=8)
    clock = SimulatedClock(settings.start_ms)
    call, future = "BTC-5JAN26-59000-C", "BTC-5JAN26"
    seeds = {
        "acc": AccountSeed(
            collateral={"BTC": 1.0}, positions=[(call, 2.0, 0.01), (future, 50_000, 60_000)]
        )
    }
    exchange = SimulatedExchange(
        venue="sim", clock=clock, market=settings, accounts=seeds, symbols=(call, future)
    )
    broker = exchange.broker("acc")
    await broker.submit(_order("late", InstrumentKey("sim", call), Side.BUY, 0.1, 0.0005))
    clock.advance(8 * 3600)
    settlement = exchange.index("BTC").price
    snapshot = await broker.snapshot()
    assert snapshot.positions == ()
    expected = 1.0 + 2.0 * max(settlement - 59_000, 0) / settlement
    expected += 50_000 * (1 / 60_000 - 1 / settlement)
    assert snapshot.collateral["BTC"] == pytest.approx(expected, rel=1e-12)
    late = await broker.lookup("late", InstrumentKey("sim", call))
    assert late is not None
    assert late.reason == "instrument expired"
    with pytest.raises(OrderRejected, match="expired"):
        await broker.submit(_order("after", InstrumentKey("sim", future), Side.BUY, 10, 60_000))


async def test_account_below_maintenance_margin_is_liquidated() -> None:
    """Short an ITM call (mark about 0.114 BTC, MM 0.189) on 0.25 BTC: equity 0.136 is below
    MM, so the next clock step closes the position at its mark and records the liquidation."""
    settings = MarketSettings(seed=3)
    clock = SimulatedClock(settings.start_ms)
    symbol = "BTC-27MAR26-60000-C"
    exchange = SimulatedExchange(
        venue="sim",
        clock=clock,
        market=settings,
        accounts={"acc": AccountSeed(collateral={"BTC": 0.25}, positions=[(symbol, -1.0, 0.1)])},
        symbols=(symbol,),
    )
    broker = exchange.broker("acc")
    before = _margin(await broker.snapshot(), "BTC")
    assert before.maintenance_margin >= before.equity
    clock.advance(1)
    after = await broker.snapshot()
    assert after.positions == ()
    [liquidation] = exchange.ledger.liquidations
    assert liquidation.closed == (InstrumentKey("sim", symbol),)
    assert liquidation.maintenance_margin >= liquidation.equity
    assert _margin(after, "BTC").equity == pytest.approx(before.equity, rel=1e-3)
