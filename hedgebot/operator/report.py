"""The text of the one-shot `hedgebot risk` report: positions, greeks, margin headroom, shocks.

Owns `render_risk_report` (fixed-width text from values already computed) and `risk_report_text`
(computes them from the book and renders). Pure: it must not fetch, log or print; the CLI prints
the returned string. Deltas in coin of the underlying, vega in USD per vol point, moves in % of the
underlying's price, margin amounts in each account's margin currency (top-ups also in USD).

The header names the book reported (`source`: the live account, the paper seed book or the
simulator). Headroom shows three moves to maintenance margin: from greeks with today's MM, by
full revaluation with MM repriced at the shocked marks, and the same under the stress scenario's
vol shock; the STRESS section shows MM/equity under the whole scenario and the collateral top-up
that restores the target ratio. Lines whose venue margin model hedgebot does not know are marked
"approx".
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

from hedgebot.core.greeks_check import Divergence, compare_deltas
from hedgebot.core.headroom import AccountHeadroom, account_headroom
from hedgebot.core.margin_model import MarginModel
from hedgebot.core.policy import HedgeRule, PolicyInputs, moves_to_band_edge
from hedgebot.core.risk import BookSnapshot, RiskReport, UnderlyingRisk, assess
from hedgebot.core.shocks import (
    DEFAULT_SPOT_MOVES,
    DEFAULT_VOL_SHIFTS,
    GridLine,
    LineRevaluation,
    ShockGrid,
    UnderlyingGrid,
    shock_grid,
)
from hedgebot.core.stress import DEFAULT_STRESS, StressScenario
from hedgebot.core.term_risk import ExpiryRisk, term_risk

NONE = "none"
"""Shown for a move to maintenance margin that does not happen within the searched range."""
UNKNOWN = "n/a"


def risk_report_text(
    snapshot: BookSnapshot,
    *,
    spot_moves: Sequence[float] = DEFAULT_SPOT_MOVES,
    vol_shifts: Sequence[float] = DEFAULT_VOL_SHIFTS,
    stress: StressScenario = DEFAULT_STRESS,
    margin_models: Mapping[str, MarginModel] | None = None,
    source: str = "",
    vega_limits: Mapping[str, float] | None = None,
    hedges: Mapping[str, HedgeRule] | None = None,
) -> str:
    """Assess the book, its headroom and its shock grid, and render the report (`hedges`: the
    hedged underlyings' rules, whose bands the report shows)."""
    risk = assess(snapshot)
    headroom = account_headroom(snapshot, stress=stress, margin_models=margin_models)
    grid = shock_grid(
        snapshot, spot_moves=spot_moves, vol_shifts=vol_shifts, margin_models=margin_models
    )
    terms = term_risk(
        report=risk,
        instruments=snapshot.instruments,
        quotes=snapshot.quotes,
        vega_limits=vega_limits,
    )
    books = snapshot.books
    checked = sum(1 for b in books for p in b.positions if p.venue_delta is not None)
    return render_risk_report(
        risk=risk,
        headroom=headroom,
        grid=grid,
        source=source,
        stress=stress,
        terms=terms,
        divergences=(checked, compare_deltas(books=books, report=risk)),
        bands=_band_rows(risk, hedges or {}),
    )


def _band_rows(risk: RiskReport, hedges: Mapping[str, HedgeRule]) -> list[list[str]]:
    """Each hedged underlying's band now: half-width in coin and USD, the net delta's distance
    from the target, and the price moves down and up, in % of the price, that bring the delta
    to the band's edges (`hedgebot.core.policy.moves_to_band_edge`: gap + Γ·dS = ±H)."""
    rows = []
    for underlying, rule in hedges.items():
        u = risk.underlyings.get(underlying)
        if u is None or u.price <= 0:
            continue
        inputs = PolicyInputs(
            underlying=underlying,
            now_ms=risk.timestamp_ms,
            net_delta=u.net_delta,
            gross_delta=u.gross_delta,
            gamma=u.gamma,
            price=u.price,
            hedge_position=0.0,
            lot=0.0,
            order_in_flight=False,
            last_hedge_ms=None,
        )
        width = rule.band.half_width(inputs)
        gap = u.net_delta - rule.target
        moves = moves_to_band_edge(gap, u.gamma, width)
        if moves is not None:
            down, up = (f"{move / u.price * 100:+.2f}%" for move in moves)
        elif abs(gap) > width:
            down = up = "outside now"
        else:
            down = up = NONE  # no gamma: a price move does not change the delta
        rows.append(
            [
                underlying,
                type(rule.band).__name__,
                _num(width, 4),
                _num(width * u.price, 2),
                _num(u.gross_delta, 4),
                _num(gap, 4),
                down,
                up,
            ]
        )
    return rows


def render_risk_report(
    *,
    risk: RiskReport,
    headroom: Sequence[AccountHeadroom],
    grid: ShockGrid,
    source: str = "",
    stress: StressScenario = DEFAULT_STRESS,
    terms: Sequence[ExpiryRisk] = (),
    divergences: tuple[int, Sequence[Divergence]] | None = None,
    bands: Sequence[Sequence[str]] = (),
) -> str:
    """The whole report as fixed-width text, one section after another.

    `divergences`: how many positions carry the venue's delta, and those out of line.
    """
    moment = dt.datetime.fromtimestamp(risk.timestamp_ms / 1000, tz=dt.UTC)
    title = f"hedgebot risk report  {moment:%Y-%m-%d %H:%M:%S} UTC"
    sections = [
        [title, *([f"book: {source}"] if source else [])],
        _positions(risk),
        _greeks(risk),
        *([_bands(bands)] if bands else []),
        *([_terms(terms)] if terms else []),
        *([_divergences(*divergences)] if divergences is not None and divergences[0] else []),
        _headroom(headroom),
        _stress(headroom, stress),
        *(_grid(g) for g in grid.underlyings.values()),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _positions(risk: RiskReport) -> list[str]:
    rows = [
        [c.account, c.source, _num(c.amount, 4), _num(c.delta, 4), c.method]
        for u in risk.underlyings.values()
        for c in sorted(u.contributions, key=lambda c: (c.account, c.source))
    ]
    header = ["account", "instrument", "amount", "delta (coin)", "method"]
    return ["POSITIONS", *(_table(header, rows, left=(0, 1, 4)) if rows else ["(none)"])]


def _greeks(risk: RiskReport) -> list[str]:
    header = [
        "underlying",
        "price",
        "net delta (coin)",
        "net delta (USD)",
        "gamma (coin/USD)",
        "delta per 1% (coin)",
        "vega (USD/vol pt)",
    ]
    rows = [_greeks_row(u) for u in risk.underlyings.values()]
    lines = ["GREEKS PER UNDERLYING", *_table(header, rows, left=(0,))]
    lines += [
        f"  {u.underlying} incomplete, not valued: {', '.join(u.missing)}"
        for u in risk.underlyings.values()
        if not u.complete
    ]
    return lines


def _greeks_row(u: UnderlyingRisk) -> list[str]:
    return [
        u.underlying,
        _num(u.price, 2),
        _num(u.net_delta, 4),
        _num(u.net_delta_usd, 2),
        f"{u.gamma:.4e}",
        _num(u.gamma * u.price / 100.0, 4),
        _num(u.vega, 2),
    ]


def _bands(rows: Sequence[Sequence[str]]) -> list[str]:
    header = [
        "underlying",
        "band",
        "half-width (coin)",
        "half-width (USD)",
        "options gross delta (coin)",
        "delta - target (coin)",
        "price move down to an edge",
        "price move up to an edge",
    ]
    title = "HEDGE BANDS (width now; the price moves that bring the delta to the band's edges)"
    return [title, *_table(header, rows, left=(0, 1))]


def _divergences(checked: int, found: Sequence[Divergence]) -> list[str]:
    title = f"GREEKS CHECK (our delta vs the venue's position delta, {checked} positions)"
    if not found:
        return [title, "all within tolerance"]
    return [title, *(f"  {d.describe()}" for d in found)]


def _terms(terms: Sequence[ExpiryRisk]) -> list[str]:
    header = [
        "underlying",
        "expiry",
        "delta (coin)",
        "vega (USD/vol pt)",
        "vega limit",
        "forward",
        "basis",
    ]
    rows = [
        [
            t.underlying,
            t.expiry,
            _num(t.delta, 4),
            _num(t.vega, 2),
            ("-" if t.vega_limit is None else _num(t.vega_limit, 0))
            + (" OVER" if t.vega_breached else ""),
            "-" if t.forward is None else _num(t.forward, 2),
            "-" if t.basis is None else _signed_pct(t.basis),
        ]
        for t in terms
    ]
    title = "TERM RISK (per expiry; basis = forward / index - 1)"
    return [title, *_table(header, rows, left=(0, 1))]


def _headroom(headroom: Sequence[AccountHeadroom]) -> list[str]:
    header = [
        "account",
        "ccy",
        "underlying",
        "equity",
        "IM",
        "MM",
        "available",
        "MM/equity",
        "up greeks",
        "up reval",
        "up stress",
        "down greeks",
        "down reval",
        "down stress",
        "model",
    ]
    rows = [
        [
            h.account,
            h.currency,
            h.underlying or "-",
            _num(h.equity, 4),
            _num(h.initial_margin, 4),
            _num(h.maintenance_margin, 4),
            _num(h.available, 4),
            _ratio(h.maintenance_ratio),
            _move(h.move_to_mm_up),
            _move(h.revalued_up),
            _move(h.stressed_up),
            _move(h.move_to_mm_down),
            _move(h.revalued_down),
            _move(h.stressed_down),
            "approx" if h.approximate else "repriced",
        ]
        for h in headroom
    ]
    title = (
        "MARGIN HEADROOM (move of the underlying to maintenance margin: greeks with today's MM; "
        "revaluation with MM repriced at the shocked marks, today's vols; the same under the "
        "stress vol shock)"
    )
    lines = [title, *(_table(header, rows, left=(0, 1, 2, 14)) if rows else ["(no margin)"])]
    if any(h.approximate for h in headroom):
        lines.append(
            "  approx: the venue's margin model is not known to hedgebot; its reported MM is "
            "only scaled with the price, so these moves are approximate"
        )
    return lines


def _stress(headroom: Sequence[AccountHeadroom], stress: StressScenario) -> list[str]:
    header = [
        "account",
        "ccy",
        "underlying",
        "equity",
        "MM",
        "MM/equity",
        "top-up",
        "top-up (USD)",
    ]
    rows = [
        [
            h.account,
            h.currency,
            h.underlying or "-",
            _num(h.stress.equity, 4),
            _num(h.stress.maintenance_margin, 4),
            _ratio(h.stress.maintenance_ratio),
            _num(h.stress.top_up, 4),
            _num(h.stress.top_up_usd, 2),
        ]
        for h in headroom
        if h.stress is not None
    ]
    title = (
        f"STRESS ({stress.describe()}, times ({stress.vol.reference_days:g}d/T)^"
        f"{stress.vol.exponent:g} by expiry T): "
        f"MM/equity after, and the collateral top-up to {stress.target_ratio:.0%}"
    )
    return [title, *(_table(header, rows, left=(0, 1, 2)) if rows else ["(no margin)"])]


def _grid(grid: UnderlyingGrid) -> list[str]:
    title = (
        f"SHOCK GRID {grid.underlying} (index {_num(grid.index_price, 2)}): rows spot move, "
        "columns vol shift; cells equity change, MM/equity after"
    )
    lines = [title]
    for line in grid.lines:
        lines += ["", f"{line.account} {line.currency}", *_line_table(grid, line)]
    totals = grid.total_change_usd()
    header = ["spot \\ vol", *(_shift(dv) for dv in grid.vol_shifts)]
    rows = [
        [_signed_pct(x), *(_num(v, 2) for v in totals[i])] for i, x in enumerate(grid.spot_moves)
    ]
    lines += ["", "all accounts, equity change in USD", *_table(header, rows, left=(0,))]
    if grid.missing:
        lines.append(f"  not revalued: {', '.join(grid.missing)}")
    return lines


def _line_table(grid: UnderlyingGrid, line: GridLine) -> list[str]:
    header = ["spot \\ vol", *(_shift(dv) for dv in grid.vol_shifts)]
    decimals = 4 if line.coin else 2
    rows = [
        [_signed_pct(x), *(_cell(cell, decimals) for cell in line.cells[i])]
        for i, x in enumerate(grid.spot_moves)
    ]
    return _table(header, rows, left=(0,))


def _cell(cell: LineRevaluation, decimals: int) -> str:
    return f"{_num(cell.change, decimals)} {cell.currency}  {_ratio(cell.maintenance_ratio)}"


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], *, left: Sequence[int]
) -> list[str]:
    """Columns padded to their widest cell: `left` columns left-aligned, the others right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(row: Sequence[str]) -> str:
        cells = (
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    return [fmt(header), "  ".join("-" * w for w in widths), *(fmt(r) for r in rows)]


def _num(value: float, decimals: int) -> str:
    return f"{value:,.{decimals}f}" if math.isfinite(value) else str(value)


def _ratio(value: float | None) -> str:
    if value is None:
        return UNKNOWN
    return f"{value:.1%}" if math.isfinite(value) else "inf"


def _move(value: float | None) -> str:
    return NONE if value is None else _signed_pct(value)


def _signed_pct(value: float) -> str:
    return f"{value * 100:+.2f}%"


def _shift(vol_shift: float) -> str:
    return f"vol {vol_shift * 100:+g} pt"
