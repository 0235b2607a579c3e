"""Joint spot × vol stress: per-tenor vol shocks, the stressed MM/equity and the collateral top-up.

Owns `TenorVolShock` (how a vol shock spreads over expiries), `StressScenario`, `option_vol_shifts`,
`margin_moves` (the spot moves at which a line's revalued equity meets its repriced maintenance
margin under a vol shock) and `stress_line` (one line under the configured scenario: its MM/equity
and the top-up that restores a target ratio), and `account_stress` (every margin line with every
underlying moved at once, what the daemon alerts on). Pure over `hedgebot.core.shocks` values; it
must not fetch, log or format text.

Per-tenor vol shock. In a sell-off short-dated implied vol rises more than long-dated: on
2026-02-05, when BTC fell 10 % in a day, Deribit's ATM vol rose 40 points at 1 week, 19 at 50
days and 4 at 322 days. `TenorVolShock` scales a reference shift dv_ref, quoted at
`reference_days`, as dv(T) = dv_ref · (reference_days / max(T, min_days))^exponent. The default is
the square-root-of-time rule (exponent 0.5; a least-squares fit of that day gives 0.59 and
+21.6 points at 30 days), floored at 3 days so expiring options do not explode.

Stress ratio and top-up. Under a scenario (spot move x, vol shock) a line has shocked equity E_s
and repriced maintenance margin MM_s (`hedgebot.core.shocks.maintenance_after`). Collateral added
in the line's currency raises equity one for one in every scenario, so the top-up that brings
MM_s / (E_s + t) down to the target ratio r is t = max(0, MM_s / r − E_s), in the line's currency;
its USD figure is t at today's index for a coin line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from hedgebot.core.margin_model import MarginModel
from hedgebot.core.risk import BookSnapshot
from hedgebot.core.shocks import (
    Exposure,
    FloatArray,
    MarginLine,
    VolShift,
    equity_changes,
    exposure,
    maintenance_after,
)

DAYS_PER_YEAR = 365.0
UP_LIMIT = 1.0
DOWN_LIMIT = 0.99
SCAN_STEP = 0.005
BISECT_TOLERANCE = 1e-9

Surplus = Callable[[FloatArray], FloatArray]


@dataclass(frozen=True, slots=True, kw_only=True)
class TenorVolShock:
    """A vol shift `points` (0.25 = 25 vol points) at `reference_days`, scaled by tenor."""

    points: float = 0.0
    reference_days: float = 30.0
    exponent: float = 0.5
    min_days: float = 3.0

    def __post_init__(self) -> None:
        if self.reference_days <= 0 or self.min_days <= 0 or self.exponent < 0:
            raise ValueError("vol shock needs positive reference_days, min_days, exponent >= 0")

    def shift(self, tau_years: FloatArray) -> FloatArray:
        """The vol shift of options with `tau_years` to expiry."""
        days = np.maximum(np.asarray(tau_years, dtype=np.float64) * DAYS_PER_YEAR, self.min_days)
        result: FloatArray = self.points * (self.reference_days / days) ** self.exponent
        return result


@dataclass(frozen=True, slots=True, kw_only=True)
class StressScenario:
    """A spot move of every underlying (fraction) together with a per-tenor vol shock."""

    spot_move: float = -0.15
    vol: TenorVolShock = field(default_factory=lambda: TenorVolShock(points=0.25))
    target_ratio: float = 0.5
    """MM/equity the top-up restores under this scenario."""

    def __post_init__(self) -> None:
        if not -1.0 < self.spot_move <= UP_LIMIT:
            raise ValueError("stress spot_move must be above -1 and at most +1")
        if not 0.0 < self.target_ratio < 1.0:
            raise ValueError("stress target_ratio must be between 0 and 1")

    def describe(self) -> str:
        """E.g. '-15% spot, +25 vol pt at 30d'."""
        return (
            f"{self.spot_move * 100:+g}% spot, {self.vol.points * 100:+g} vol pt at "
            f"{self.vol.reference_days:g}d"
        )


DEFAULT_STRESS = StressScenario()


def option_vol_shifts(exp: Exposure, vol: TenorVolShock) -> FloatArray:
    """The vol shift of every option of `exp` (in its `OptionRows` order)."""
    return vol.shift(exp.options.tau)


@dataclass(frozen=True, slots=True, kw_only=True)
class LineStress:
    """One margin line under a stress scenario. Amounts in `currency` unless named _usd."""

    account: str
    currency: str
    scenario: StressScenario
    equity: float
    maintenance_margin: float
    top_up: float
    top_up_usd: float
    approximate: bool

    @property
    def maintenance_ratio(self) -> float:
        """Stressed MM / stressed equity; inf for non-positive equity."""
        if self.equity <= 0:
            return math.inf
        return self.maintenance_margin / self.equity


def stress_line(exp: Exposure, k: int, scenario: StressScenario) -> LineStress | None:
    """Line `k` under `scenario`, None where the venue reported no margin for it."""
    line = exp.lines[k]
    if line.margin is None:
        return None
    shifts = option_vol_shifts(exp, scenario.vol)
    equity = line.equity + float(equity_changes(exp, [scenario.spot_move], shifts)[k, 0])
    mm = float(maintenance_after(exp, [scenario.spot_move], shifts)[k, 0])
    top_up = max(0.0, mm / scenario.target_ratio - equity)
    return LineStress(
        account=line.account,
        currency=line.currency,
        scenario=scenario,
        equity=equity,
        maintenance_margin=mm,
        top_up=top_up,
        top_up_usd=top_up * exp.index_price if line.coin else top_up,
        approximate=line.model is MarginModel.REPORTED,
    )


def margin_moves(exp: Exposure, k: int, vol_shift: VolShift) -> tuple[float | None, float | None]:
    """(up, down) moves at which line `k`'s revalued equity meets its repriced MM under a vol
    shift (one for all options, or one per option). None: no crossing within the range."""
    line = exp.lines[k]
    if line.margin is None:
        return None, None

    def surplus(moves: FloatArray) -> FloatArray:
        equity = line.equity + equity_changes(exp, moves, vol_shift)[k]
        result: FloatArray = equity - maintenance_after(exp, moves, vol_shift)[k]
        return result

    if line.equity <= line.margin.maintenance_margin:
        return 0.0, 0.0
    up = first_crossing(surplus, np.linspace(0.0, UP_LIMIT, _steps(UP_LIMIT) + 1))
    down = first_crossing(surplus, np.linspace(0.0, -DOWN_LIMIT, _steps(DOWN_LIMIT) + 1))
    return up, down


def _steps(limit: float) -> int:
    return math.ceil(limit / SCAN_STEP)


def first_crossing(surplus: Surplus, moves: FloatArray) -> float | None:
    """The first move (outward from 0 along `moves`) where `surplus` turns non-positive,
    bisected to `BISECT_TOLERANCE`; 0.0 when there is no surplus to start with."""
    below = np.flatnonzero(surplus(moves) <= 0.0)
    if below.size == 0:
        return None
    if below[0] == 0:
        return 0.0
    inside, outside = float(moves[below[0] - 1]), float(moves[below[0]])
    while abs(outside - inside) > BISECT_TOLERANCE:
        middle = 0.5 * (inside + outside)
        if surplus(np.array([middle]))[0] > 0.0:
            inside = middle
        else:
            outside = middle
    return outside


def account_stress(
    snapshot: BookSnapshot,
    *,
    scenario: StressScenario = DEFAULT_STRESS,
    margin_models: Mapping[str, MarginModel] | None = None,
) -> dict[tuple[str, str], LineStress]:
    """Every margin line with a venue margin state under the scenario, every underlying moved at
    once: equity and (repriced) MM changes of each underlying are added up per line. Keyed by
    (account, currency); a line no underlying moves keeps today's figures."""
    equity: dict[tuple[str, str], float] = {}
    mm: dict[tuple[str, str], float] = {}
    meta: dict[tuple[str, str], tuple[MarginLine | None, float]] = {}
    for underlying, price in snapshot.index_prices.items():
        if not (math.isfinite(price) and price > 0):
            continue
        exp = exposure(snapshot, underlying=underlying, margin_models=margin_models)
        if not exp.lines:
            continue
        shifts = option_vol_shifts(exp, scenario.vol)
        changes = equity_changes(exp, [scenario.spot_move], shifts)[:, 0]
        after = maintenance_after(exp, [scenario.spot_move], shifts)[:, 0]
        for k, line in enumerate(exp.lines):
            if line.margin is None:
                continue
            key = (line.account, line.currency)
            equity[key] = equity.get(key, 0.0) + float(changes[k])
            mm[key] = mm.get(key, 0.0) + float(after[k]) - line.margin.maintenance_margin
            meta.setdefault(key, (line, price))
    result = {}
    for book in snapshot.books:
        for state in book.margin:
            key = (book.account, state.currency)
            moved, price = meta.get(key, (None, 1.0))
            shocked_equity = state.equity + equity.get(key, 0.0)
            shocked_mm = max(state.maintenance_margin + mm.get(key, 0.0), 0.0)
            top_up = max(0.0, shocked_mm / scenario.target_ratio - shocked_equity)
            coin = moved is not None and moved.coin
            result[key] = LineStress(
                account=book.account,
                currency=state.currency,
                scenario=scenario,
                equity=shocked_equity,
                maintenance_margin=shocked_mm,
                top_up=top_up,
                top_up_usd=top_up * price if coin else top_up,
                approximate=moved is not None and moved.model is MarginModel.REPORTED,
            )
    return result
