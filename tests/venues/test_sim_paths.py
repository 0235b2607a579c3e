"""The simulated price paths are seeded, positive, and have the configured vol and jump rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedgebot.venues.sim.paths import UnderlyingPath
from hedgebot.venues.sim.settings import BTC, ETH, UnderlyingSettings

MINUTES_PER_YEAR = 365 * 24 * 60


def _year_of_minutes(spec: UnderlyingSettings, seed: int) -> UnderlyingPath:
    path = UnderlyingPath(spec, base_seed=seed, step_seconds=60)
    path.ensure(MINUTES_PER_YEAR)
    return path


def test_same_seed_gives_the_same_path_however_it_is_stepped() -> None:
    """Two paths with one seed agree exactly, even when one is generated in smaller pieces."""
    whole = UnderlyingPath(BTC, base_seed=7, step_seconds=1)
    whole.ensure(20_000)
    pieces = UnderlyingPath(BTC, base_seed=7, step_seconds=1)
    for step in range(0, 20_001, 997):
        pieces.ensure(step)
    pieces.ensure(20_000)
    np.testing.assert_array_equal(whole.spot(0, 20_000), pieces.spot(0, 20_000))
    np.testing.assert_array_equal(whole.premium(0, 20_000), pieces.premium(0, 20_000))


def test_different_seeds_and_underlyings_give_different_paths() -> None:
    """Another seed, or another underlying with the same seed, moves differently."""
    paths = [
        UnderlyingPath(BTC, base_seed=1, step_seconds=1),
        UnderlyingPath(BTC, base_seed=2, step_seconds=1),
        UnderlyingPath(ETH, base_seed=1, step_seconds=1),
    ]
    returns = []
    for path in paths:
        path.ensure(1000)
        returns.append(np.diff(np.log(path.spot(0, 1000))))
    assert not np.allclose(returns[0], returns[1])
    assert not np.allclose(returns[0], returns[2])


@pytest.mark.parametrize(("spec", "seed"), [(BTC, 3), (ETH, 11)])
def test_realised_vol_over_a_year_is_near_the_configured_vol(
    spec: UnderlyingSettings, seed: int
) -> None:
    """Over a year of 1-minute steps the realised vol is within 10% of the configured vol (its
    spread across seeds is about 2.5%) and the price never reaches zero."""
    spot = _year_of_minutes(spec, seed).spot(0, MINUTES_PER_YEAR)
    realised = np.diff(np.log(spot)).std() * math.sqrt(MINUTES_PER_YEAR)
    assert realised == pytest.approx(spec.vol, rel=0.10)
    assert spot.min() > 0


def test_jumps_happen_at_the_configured_rate_and_move_the_price() -> None:
    """About `jumps_per_day` jumps a day happen (±15%), and steps with a jump move far more."""
    path = _year_of_minutes(BTC, 5)
    jumps = path.jumps(1, MINUTES_PER_YEAR)
    assert jumps.sum() == pytest.approx(BTC.jumps_per_day * 365, rel=0.15)
    moves = np.abs(np.diff(np.log(path.spot(0, MINUTES_PER_YEAR))))
    assert moves[jumps > 0].mean() > 3 * moves[jumps == 0].mean()


def test_vol_of_vol_makes_the_instantaneous_vol_wander_around_its_level() -> None:
    """The instantaneous vol moves (stochastic vol) but its RMS stays at the diffusive level."""
    path = _year_of_minutes(BTC, 9)
    vol = path.vol(0, MINUTES_PER_YEAR)
    assert vol.std() > 0.1 * BTC.diffusive_vol
    assert math.sqrt(float(np.mean(vol**2))) == pytest.approx(BTC.diffusive_vol, rel=0.1)


def test_perp_premium_mean_reverts_around_its_mean() -> None:
    """The perpetual premium averages its configured mean with its configured spread."""
    path = _year_of_minutes(BTC, 4)
    premium = path.premium(0, MINUTES_PER_YEAR)
    assert premium.mean() == pytest.approx(BTC.perp_premium_mean, abs=BTC.perp_premium_std / 5)
    assert premium.std() == pytest.approx(BTC.perp_premium_std, rel=0.2)


def test_settings_refuse_jumps_larger_than_the_total_vol() -> None:
    """An underlying whose jumps alone exceed the configured vol is refused."""
    with pytest.raises(ValueError, match="jumps"):
        UnderlyingSettings(name="X", spot=1.0, vol=0.1, jumps_per_day=100, jump_std=0.05)
