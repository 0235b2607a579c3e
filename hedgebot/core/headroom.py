"""Margin headroom: how far each underlying may move before an account reaches maintenance margin.

Owns `AccountHeadroom`, `account_headroom` and the pre-trade IM projection
(`projected_initial_margin`, `breaches_floor`). Pure over frozen values; it must not send, veto
or log anything (the lead's gatekeeper wires the IM check in) and must not format text
(`hedgebot.operator.report`).

For every margin line (account, margin currency) exposed to an underlying, the move x (a fraction,
+0.10 = +10 %) at which equity falls to maintenance margin, found two ways:

(a) from greeks, with maintenance margin held at today's figure (a quick first-order view).
    With D the line's coin delta (for a coin line including its coin equity, the
    premium-adjusted option deltas and N/F of inverse futures, from `hedgebot.core.risk.assess` with
    collateral counted) and Γ its pure option gamma, the line's USD equity is
    E_usd(x) ≈ E_usd + D·S·x + ½·Γ·(S·x)², and for a coin line the coin equity is that over
    S·(1 + x), which carries the inverse-contract convexity. With maintenance margin in USD
    scaling with the price (`hedgebot.core.shocks`: constant coin MM, linear MM·(1 + x)), equity =
    MM becomes the quadratic ½·Γ·S²·x² + (D·S − MM_usd)·x + (E_usd − MM_usd) = 0.
(b) from full revaluation with margin repriced at the shocked marks
    (`hedgebot.core.stress.margin_moves`: equity from `hedgebot.core.shocks.equity_changes`, MM
    from `hedgebot.core.shocks.maintenance_after`), at today's vols: a scan in steps of
    `SCAN_STEP` outward from 0, then bisection to `BISECT_TOLERANCE` on the first crossing;
(c) the same under the stress scenario's per-tenor vol shock (`hedgebot.core.stress`), and the
    line's MM/equity and collateral top-up under the whole scenario (spot move and vol shock).

Moves are searched up to +`UP_LIMIT` and down to −`DOWN_LIMIT` (a price cannot reach zero); None
means no crossing there. An account already at or below maintenance margin reports 0.0 both ways.
The scan can miss a dip below MM that recovers within one step (0.5 % of price).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hedgebot.core.margin_model import MarginModel
from hedgebot.core.risk import BookSnapshot, Contribution, assess
from hedgebot.core.shocks import Exposure, MarginLine, exposure, linear_currency
from hedgebot.core.stress import (
    DEFAULT_STRESS,
    DOWN_LIMIT,
    UP_LIMIT,
    LineStress,
    StressScenario,
    margin_moves,
    option_vol_shifts,
    stress_line,
)
from hedgebot.model.account import MarginState
from hedgebot.model.instruments import Instrument


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountHeadroom:
    """Margin of one account's margin currency and the moves of one underlying that reach MM.

    Amounts in `currency`. Moves are signed fractions of the underlying's price (down-moves are
    negative), None where equity stays above maintenance margin within the searched range.
    `underlying` is None for a margin line that no underlying moves (nothing to search).
    """

    account: str
    currency: str
    underlying: str | None
    equity: float
    initial_margin: float
    maintenance_margin: float
    available: float
    maintenance_ratio: float
    move_to_mm_up: float | None
    move_to_mm_down: float | None
    revalued_up: float | None
    """Full revaluation, margin repriced at the shocked marks, today's vols."""
    revalued_down: float | None
    stressed_up: float | None = None
    """As `revalued_up`, under the stress scenario's per-tenor vol shock."""
    stressed_down: float | None = None
    stress: LineStress | None = None
    """This line under the whole stress scenario (MM/equity, top-up), None without margin."""

    @property
    def approximate(self) -> bool:
        """True where the venue's margin model is not known and MM is only scaled with price."""
        return self.stress is not None and self.stress.approximate

    @property
    def up_difference(self) -> float | None:
        """Greeks-based minus revalued up-move, None unless both exist."""
        return _difference(self.move_to_mm_up, self.revalued_up)

    @property
    def down_difference(self) -> float | None:
        """Greeks-based minus revalued down-move, None unless both exist."""
        return _difference(self.move_to_mm_down, self.revalued_down)


def _difference(greeks: float | None, revalued: float | None) -> float | None:
    return None if greeks is None or revalued is None else greeks - revalued


def account_headroom(
    snapshot: BookSnapshot,
    *,
    stress: StressScenario = DEFAULT_STRESS,
    margin_models: Mapping[str, MarginModel] | None = None,
) -> tuple[AccountHeadroom, ...]:
    """Headroom of every margin line with a known margin state, per underlying that moves it."""
    greeks = _line_greeks(snapshot)
    rows: list[AccountHeadroom] = []
    for underlying in snapshot.index_prices:
        exp = exposure(snapshot, underlying=underlying, margin_models=margin_models)
        for k, line in enumerate(exp.lines):
            if line.margin is not None:
                delta, gamma = greeks.get((line.account, line.currency, underlying), (0.0, 0.0))
                rows.append(_headroom(exp, k, line.margin, delta=delta, gamma=gamma, stress=stress))
    covered = {(row.account, row.currency) for row in rows}
    rows.extend(
        _unexposed(book.account, margin)
        for book in snapshot.books
        for margin in book.margin
        if (book.account, margin.currency) not in covered
    )
    return tuple(rows)


def _line_greeks(snapshot: BookSnapshot) -> dict[tuple[str, str, str], tuple[float, float]]:
    """Delta and gamma of positions per (account, margin currency, underlying), USD-equity terms.

    Runs `assess` on the positions alone with collateral counted, so inverse contracts carry no
    convexity gamma (the coin equity, added by `greeks_moves`, cancels it); the line's coin equity
    is added to its delta separately, whether or not the account counts collateral for hedging.
    """
    stripped = [
        dataclasses.replace(b, collateral={}, margin=(), count_collateral=True)
        for b in snapshot.books
    ]
    report = assess(dataclasses.replace(snapshot, books=stripped))
    by_source = {str(key): instrument for key, instrument in snapshot.instruments.items()}
    linear = {b.account: linear_currency(b, snapshot.index_prices) for b in snapshot.books}
    sums: dict[tuple[str, str, str], tuple[float, float]] = {}
    for underlying, risk in report.underlyings.items():
        for c in risk.contributions:
            currency = _line_currency(c, by_source, underlying, linear)
            key = (c.account, currency, underlying)
            delta, gamma = sums.get(key, (0.0, 0.0))
            sums[key] = (delta + c.delta, gamma + c.gamma)
    return sums


def _line_currency(
    contribution: Contribution,
    by_source: Mapping[str, Instrument],
    underlying: str,
    linear_currency: Mapping[str, str],
) -> str:
    instrument = by_source[contribution.source]
    return underlying if instrument.is_inverse else linear_currency[contribution.account]


def _headroom(
    exp: Exposure,
    k: int,
    margin: MarginState,
    *,
    delta: float,
    gamma: float,
    stress: StressScenario,
) -> AccountHeadroom:
    line = exp.lines[k]
    up, down = greeks_moves(line, exp.index_price, delta=delta, gamma=gamma)
    revalued_up, revalued_down = margin_moves(exp, k, 0.0)
    stressed_up, stressed_down = margin_moves(exp, k, option_vol_shifts(exp, stress.vol))
    return AccountHeadroom(
        account=line.account,
        currency=line.currency,
        underlying=exp.underlying,
        equity=margin.equity,
        initial_margin=margin.initial_margin,
        maintenance_margin=margin.maintenance_margin,
        available=margin.available,
        maintenance_ratio=margin.maintenance_ratio,
        move_to_mm_up=up,
        move_to_mm_down=down,
        revalued_up=revalued_up,
        revalued_down=revalued_down,
        stressed_up=stressed_up,
        stressed_down=stressed_down,
        stress=stress_line(exp, k, stress),
    )


def _unexposed(account: str, margin: MarginState) -> AccountHeadroom:
    """A margin line no underlying moves: at MM already (0.0) or never (None)."""
    at_mm = 0.0 if margin.equity <= margin.maintenance_margin else None
    return AccountHeadroom(
        account=account,
        currency=margin.currency,
        underlying=None,
        equity=margin.equity,
        initial_margin=margin.initial_margin,
        maintenance_margin=margin.maintenance_margin,
        available=margin.available,
        maintenance_ratio=margin.maintenance_ratio,
        move_to_mm_up=at_mm,
        move_to_mm_down=at_mm,
        revalued_up=at_mm,
        revalued_down=at_mm,
        stressed_up=at_mm,
        stressed_down=at_mm,
    )


def greeks_moves(
    line: MarginLine, index_price: float, *, delta: float, gamma: float
) -> tuple[float | None, float | None]:
    """(up, down) moves at which the delta-gamma equity of `line` meets maintenance margin.

    `delta` excludes the line's own coin equity (added here for coin lines); see module doc (a).
    """
    if line.margin is None:
        return None, None
    s = index_price
    to_usd = s if line.coin else 1.0
    equity_usd = line.equity * to_usd
    mm_usd = line.margin.maintenance_margin * to_usd
    coin_delta = delta + (line.equity if line.coin else 0.0)
    roots = _real_roots(0.5 * gamma * s * s, coin_delta * s - mm_usd, equity_usd - mm_usd)
    return _nearest(roots, equity_usd - mm_usd)


def _real_roots(a: float, b: float, c: float) -> tuple[float, ...]:
    """Real roots of a·x² + b·x + c (numerically stable form)."""
    if a == 0.0:
        return () if b == 0.0 else (-c / b,)
    disc = b * b - 4.0 * a * c
    if disc < 0:
        return ()
    q = -0.5 * (b + math.copysign(math.sqrt(disc), b))
    return (q / a, c / q) if q != 0.0 else (0.0,)


def _nearest(roots: Sequence[float], surplus: float) -> tuple[float | None, float | None]:
    """The smallest up-move and down-move among `roots`, or 0.0 both ways with no surplus."""
    if surplus <= 0:
        return 0.0, 0.0
    up = min((r for r in roots if 0.0 < r <= UP_LIMIT), default=None)
    down = max((r for r in roots if -DOWN_LIMIT <= r < 0.0), default=None)
    return up, down


def projected_initial_margin(
    margin: MarginState, *, order_notional_coin: float, im_rate: float
) -> float:
    """Initial margin after an order of `order_notional_coin` charged at `im_rate` of notional.

    Notional is in the account's margin currency (coin for coin-margined accounts). Conservative:
    the order is assumed to add margin whatever its side (a reducing order is exempted by the
    caller through `breaches_floor(reduces_risk=True)`).
    """
    if im_rate < 0 or not math.isfinite(im_rate):
        raise ValueError(f"im_rate must be a non-negative fraction, got {im_rate}")
    return margin.initial_margin + abs(order_notional_coin) * im_rate


def breaches_floor(
    margin: MarginState,
    *,
    order_notional_coin: float,
    im_rate: float,
    min_available_ratio: float,
    reduces_risk: bool,
) -> bool:
    """True when the order would leave less than `min_available_ratio` of equity free of IM.

    A hedge that reduces risk never breaches: refusing it would leave the account worse off.
    An account with no positive equity breaches with any other order.
    """
    if reduces_risk:
        return False
    if margin.equity <= 0:
        return True
    im = projected_initial_margin(margin, order_notional_coin=order_notional_coin, im_rate=im_rate)
    return (margin.equity - im) / margin.equity < min_available_ratio
