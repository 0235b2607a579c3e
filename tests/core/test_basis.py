"""The basis between venues (hedgebot.core.basis)."""

from __future__ import annotations

import pytest

from hedgebot.core.basis import basis_bps, cross_venue_basis


def test_a_perp_eight_basis_points_above_the_other_venues_index() -> None:
    assert basis_bps(60_048.0, 60_000.0) == pytest.approx(8.0)
    assert basis_bps(59_940.0, 60_000.0) == pytest.approx(-10.0)


@pytest.mark.parametrize(
    ("hedge", "reference"), [(0.0, 1.0), (1.0, 0.0), (float("nan"), 1.0), (1.0, float("inf"))]
)
def test_unusable_prices_give_no_basis(hedge: float, reference: float) -> None:
    assert basis_bps(hedge, reference) is None


def test_only_a_reference_from_another_venue_is_a_basis_between_venues() -> None:
    same = cross_venue_basis(
        hedge_venue="deribit", hedge_price=60_010.0, reference_venue="deribit", reference_price=6e4
    )
    other = cross_venue_basis(
        hedge_venue="binance", hedge_price=60_030.0, reference_venue="deribit", reference_price=6e4
    )
    missing = cross_venue_basis(
        hedge_venue="binance", hedge_price=60_030.0, reference_venue=None, reference_price=None
    )
    assert same is None
    assert missing is None
    assert other == pytest.approx(5.0)
