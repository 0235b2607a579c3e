"""The vectorised engine: the policy's rule applied to every path at once, one step at a time.

Owns `run_vectorised` and `supports`. It applies `hedgebot.core.policy.decide`'s rule (hold
inside the band, respect the cooldown, size towards the edge or the target, cap at `max_order`
and the room under `max_position`, round up to whole lots, never overshoot past the opposite band
edge, refuse sizes under `min_order`) with numpy across paths, for the bands the core defines
(fixed, percent, Whalley–Wilmott). It is an accelerated mirror of the event engine, not a second
policy: tests/backtest/test_engines.py checks that the two agree trade for trade on the same
paths for every policy of the default grid, so a change to the core policy that this module does
not follow fails the suite. A band it does not know makes `supports` false and the runner uses
the event engine.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hedgebot.backtest.book import BacktestBook, BookPaths
from hedgebot.backtest.outcome import CostModel, Outcome, band_share
from hedgebot.core.pnl_stats import DrawdownTracker
from hedgebot.core.policy import FixedBand, HedgeRule, PercentBand, RebalanceTo, WhalleyWilmottBand
from hedgebot.model.instruments import Instrument

FloatArray = NDArray[np.float64]


def supports(rule: HedgeRule) -> bool:
    """Whether this engine knows the rule's band."""
    return type(rule.band) in (FixedBand, PercentBand, WhalleyWilmottBand)


def _half_width(
    rule: HedgeRule, gross: FloatArray, gamma: FloatArray, price: FloatArray
) -> FloatArray:
    band = rule.band
    if isinstance(band, FixedBand):
        return np.full(price.shape, band.half_width_coin)
    if isinstance(band, PercentBand):
        return np.minimum(band.maximum, np.maximum(band.minimum, gross * band.percent / 100.0))
    if isinstance(band, WhalleyWilmottBand):
        return band.widths(gross, gamma, price)
    raise TypeError(f"the vectorised engine does not know {type(band).__name__}")


def _lot(instrument: Instrument, price: FloatArray) -> FloatArray:
    """`hedgebot.core.units.lot_in_coin` across paths."""
    if instrument.amount_is_usd:
        lot: FloatArray = np.abs(instrument.contract_size / price)
        return lot
    return np.full(price.shape, abs(instrument.contract_size))


def _orders(
    rule: HedgeRule, gap: FloatArray, band: FloatArray, lot: FloatArray, position: FloatArray
) -> FloatArray:
    """Signed coin order per path (0 where the rule sizes nothing), as `policy._order_size`."""
    distance = np.abs(gap)
    wanted = distance - (band if rule.rebalance_to is RebalanceTo.EDGE else 0.0)
    ceiling = distance + band
    wanted = np.minimum(wanted, rule.max_order)
    direction = -np.copysign(1.0, gap)
    room = rule.max_position - direction * position
    wanted = np.minimum(wanted, room)
    wanted = np.maximum(wanted, rule.min_order)
    lots = np.ceil(wanted / lot - 1e-9)
    limit = np.minimum(np.minimum(ceiling, rule.max_order), room) + 1e-12
    fit = np.floor(limit / lot)
    fit = np.where((fit + 1.0) * lot <= limit, fit + 1.0, fit)
    fit = np.where(fit * lot > limit, fit - 1.0, fit)
    lots = np.maximum(np.minimum(lots, fit), 0.0)
    size = lots * lot
    ok = (room > 0) & (lots > 0) & (size >= rule.min_order - 1e-12)
    return np.where(ok, direction * size, 0.0)


def run_vectorised(
    *,
    name: str,
    book: BacktestBook,
    paths: BookPaths,
    rule: HedgeRule,
    costs: CostModel,
    record: bool = False,
) -> Outcome:
    """Run `rule` over all paths of `paths` at once."""
    market = paths.market
    n, steps = market.paths, market.steps
    position = np.zeros(n)
    hedge = np.zeros(n)
    fees = np.zeros(n)
    spread = np.zeros(n)
    funding = np.zeros(n)
    drawdown = DrawdownTracker(n)
    trades = np.zeros(n, dtype=np.int64)
    outside = np.zeros(n, dtype=np.int64)
    bands = np.zeros((n, steps))
    last_hedge = np.full(n, np.iinfo(np.int64).min // 2, dtype=np.int64)
    never = last_hedge.copy()
    orders = np.zeros((n, steps)) if record else None
    funding_rate = costs.funding_per_step(market.step_ms)
    spot = market.spot
    for t in range(steps):
        price = spot[:, t]
        now_ms = market.start_ms + t * market.step_ms
        gap = paths.delta[:, t] + position - rule.target
        band = _half_width(rule, paths.gross[:, t], paths.gamma[:, t], price)
        bands[:, t] = band
        out = np.abs(gap) > band
        outside += out
        cooled = (last_hedge == never) | (now_ms - last_hedge >= rule.cooldown_ms)
        active = out & cooled
        if active.any():
            size = np.where(
                active, _orders(rule, gap, band, _lot(book.hedge, price), position), 0.0
            )
            traded = size != 0.0
            position += size
            notional = np.abs(size) * price
            fees += notional * costs.fee_bps / 10_000.0
            spread += notional * costs.slippage_bps / 10_000.0
            trades += traded
            last_hedge = np.where(traded, now_ms, last_hedge)
            if orders is not None:
                orders[:, t] = size
        hedge += position * (spot[:, t + 1] - price)
        funding += position * price * funding_rate
        drawdown.observe(paths.cumulative[:, t + 1] + hedge - fees - spread - funding)
    return Outcome(
        policy=name,
        hedge_pnl=hedge,
        fees=fees,
        spread_slippage=spread,
        funding=funding,
        trades=trades,
        outside_steps=outside,
        band_share=band_share(bands, paths.gross[:, :steps]),
        max_drawdown=drawdown.worst,
        final_position=position,
        vetoes=np.zeros(n, dtype=np.int64),
        orders=orders,
    )
