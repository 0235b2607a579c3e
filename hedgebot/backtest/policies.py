"""The policies a backtest compares, all expressed as the core's `HedgeRule`.

Owns `Policy` (a name, a rule and, for calibration, the config band it stands for) and
`policy_grid`, which builds the default comparison from the daemon's configured rule:

* ``none``: the configured band with no room to trade (max position 0): the unhedged book;
* ``clock Nm``: a zero-width band to the target with an N-minute cooldown, i.e. back to delta
  neutral every N minutes (whole lots);
* ``configured``: the daemon's own rule from the config, unchanged;
* fixed bands at multiples of the configured width, to the edge and to the target;
* percent bands of the options' gross delta;
* Whalley–Wilmott bands over a grid of relative risk aversions A (γ = A / (options' gross
  delta × S), `hedgebot.core.policy.WhalleyWilmottBand`) at the backtest's cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from hedgebot.core.policy import (
    BandRule,
    FixedBand,
    HedgeRule,
    PercentBand,
    RebalanceTo,
    WhalleyWilmottBand,
)

MINUTE_MS = 60_000
DEFAULT_CLOCK_MINUTES = (15, 60, 240)
DEFAULT_RELATIVE_RISK_AVERSIONS = (1.0, 10.0, 100.0, 1_000.0, 10_000.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """One named rule of the comparison."""

    name: str
    rule: HedgeRule
    config_band: str | None = None
    """The band as a TOML inline table for the daemon's config (None: not a band policy)."""


def band_toml(band: BandRule, rebalance_to: RebalanceTo) -> str | None:
    """The config lines that select `band` in a `[hedges.U]` table."""
    to = f'rebalance_to = "{rebalance_to.value}"'
    if isinstance(band, FixedBand):
        return f'band = {{ kind = "fixed", half_width = {band.half_width_coin:.6g} }}\n{to}'
    if isinstance(band, PercentBand):
        return (
            f'band = {{ kind = "percent", percent = {band.percent:.6g}, '
            f"minimum = {band.minimum:.6g}, maximum = {band.maximum:.6g} }}\n{to}"
        )
    if isinstance(band, WhalleyWilmottBand):
        aversion = (
            f"relative_risk_aversion = {band.relative_risk_aversion:.6g}"
            if band.relative_risk_aversion is not None
            else f"risk_aversion = {band.risk_aversion:.6g}"
        )
        return (
            f'band = {{ kind = "whalley_wilmott", {aversion}, '
            f"cost_bps = {band.cost * 10_000:.6g}, minimum = {band.minimum:.6g}, "
            f"maximum = {band.maximum:.6g} }}\n{to}"
        )
    return None


def _band_policy(name: str, base: HedgeRule, band: BandRule, to: RebalanceTo) -> Policy:
    rule = dataclasses.replace(base, band=band, rebalance_to=to)
    return Policy(name=name, rule=rule, config_band=band_toml(band, to))


def clock_policy(base: HedgeRule, minutes: float) -> Policy:
    """Back to the target every `minutes` (a zero-width band with that cooldown)."""
    rule = dataclasses.replace(
        base,
        band=FixedBand(0.0),
        rebalance_to=RebalanceTo.TARGET,
        cooldown_ms=round(minutes * MINUTE_MS),
    )
    return Policy(name=f"clock {minutes:g}m", rule=rule)


def no_hedge(base: HedgeRule) -> Policy:
    """The configured band, but never a trade."""
    return Policy(name="none", rule=dataclasses.replace(base, max_position=0.0))


def whalley_wilmott(
    base: HedgeRule, relative_risk_aversions: Sequence[float], *, cost_bps: float, to: RebalanceTo
) -> list[Policy]:
    """Whalley–Wilmott bands at each relative risk aversion A, clamped to [min order, max
    position]."""
    return [
        _band_policy(
            f"ww A={aversion:g} {to.value}",
            base,
            WhalleyWilmottBand(
                relative_risk_aversion=aversion,
                cost=cost_bps / 10_000.0,
                minimum=base.min_order,
                maximum=base.max_position,
            ),
            to,
        )
        for aversion in relative_risk_aversions
    ]


def fixed_bands(base: HedgeRule, widths: Sequence[float], *, to: RebalanceTo) -> list[Policy]:
    """Fixed bands of the given half-widths (coin)."""
    return [_band_policy(f"fixed {w:g} {to.value}", base, FixedBand(w), to) for w in widths]


def policy_grid(base: HedgeRule, *, cost_bps: float, reference_width: float) -> list[Policy]:
    """The default comparison around the configured rule `base` (see the module doc)."""
    policies = [no_hedge(base)]
    policies += [clock_policy(base, m) for m in DEFAULT_CLOCK_MINUTES]
    policies.append(
        Policy(name="configured", rule=base, config_band=band_toml(base.band, base.rebalance_to))
    )
    widths = [reference_width * k for k in (0.5, 2.0, 4.0)]
    policies += fixed_bands(base, widths, to=RebalanceTo.EDGE)
    policies += fixed_bands(base, [reference_width], to=RebalanceTo.TARGET)
    policies.append(
        _band_policy(
            "percent 5% edge",
            base,
            PercentBand(percent=5.0, minimum=base.min_order, maximum=base.max_position),
            RebalanceTo.EDGE,
        )
    )
    policies += whalley_wilmott(
        base, DEFAULT_RELATIVE_RISK_AVERSIONS, cost_bps=cost_bps, to=RebalanceTo.EDGE
    )
    return policies


def calibration_grid(base: HedgeRule, *, cost_bps: float) -> list[Policy]:
    """Whalley–Wilmott bands over a fine grid of relative risk aversions (A = 0.1 to 10^5, four
    per decade), to the edge."""
    aversions = [10 ** (k / 4) for k in range(-4, 21)]
    return whalley_wilmott(base, aversions, cost_bps=cost_bps, to=RebalanceTo.EDGE)
