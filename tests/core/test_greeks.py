"""Black-76 greeks engine: parity, finite differences, bounds, broadcasting and expired options."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedgebot.core.greeks import OptionGreeks, black76, coin_price, premium_adjusted_delta

forwards = st.floats(min_value=1.0, max_value=1e6)
moneyness = st.floats(min_value=0.2, max_value=5.0)  # strike / forward
taus = st.floats(min_value=1.0 / 365.0, max_value=3.0)
sigmas = st.floats(min_value=0.05, max_value=3.0)
# σ√τ at least 0.02, so a finite-difference step scaled by it stays far from round-off
live_options = st.tuples(forwards, moneyness, taus, sigmas, st.booleans()).filter(
    lambda o: o[3] * math.sqrt(o[2]) >= 0.02
)


def at(forward: float, strike: float, tau: float, sigma: float, is_call: bool) -> OptionGreeks:
    """Greeks of one option."""
    return black76(forward, strike, tau, sigma, is_call)


def central_difference(fn: Callable[[float], float], x: float, step: float) -> float:
    """(f(x + h) − f(x − h)) / 2h."""
    return (fn(x + step) - fn(x - step)) / (2.0 * step)


@given(live_options)
def test_call_delta_minus_put_delta_is_one(option: tuple[float, float, float, float, bool]) -> None:
    """A call and a put on the same strike differ in delta by exactly one coin."""
    forward, money, tau, sigma, _ = option
    call = at(forward, forward * money, tau, sigma, True)
    put = at(forward, forward * money, tau, sigma, False)
    assert float(call.delta - put.delta) == pytest.approx(1.0, abs=1e-12)


@given(live_options)
def test_call_and_put_share_gamma_vega_theta(
    option: tuple[float, float, float, float, bool],
) -> None:
    """Gamma is never negative and gamma, vega and theta do not depend on call or put."""
    forward, money, tau, sigma, _ = option
    call = at(forward, forward * money, tau, sigma, True)
    put = at(forward, forward * money, tau, sigma, False)
    assert float(call.gamma) >= 0.0
    for name in ("gamma", "vega", "theta"):
        assert float(getattr(call, name)) == pytest.approx(float(getattr(put, name)), rel=1e-12)


@given(live_options)
def test_put_call_parity_holds(option: tuple[float, float, float, float, bool]) -> None:
    """Call minus put equals forward minus strike (r = 0)."""
    forward, money, tau, sigma, _ = option
    strike = forward * money
    call = at(forward, strike, tau, sigma, True)
    put = at(forward, strike, tau, sigma, False)
    scale = max(forward, strike)
    assert float(call.price - put.price) == pytest.approx(forward - strike, abs=1e-12 * scale)


@given(live_options)
def test_delta_is_the_derivative_of_price_in_forward(
    option: tuple[float, float, float, float, bool],
) -> None:
    """Delta agrees with a central finite difference of the price in the forward."""
    forward, money, tau, sigma, is_call = option
    strike = forward * money
    step = 1e-5 * forward * sigma * math.sqrt(tau)

    def price(f: float) -> float:
        return float(at(f, strike, tau, sigma, is_call).price)

    delta = float(at(forward, strike, tau, sigma, is_call).delta)
    assert central_difference(price, forward, step) == pytest.approx(delta, abs=1e-7)


@given(live_options)
def test_gamma_is_the_second_derivative_of_price_in_forward(
    option: tuple[float, float, float, float, bool],
) -> None:
    """Gamma agrees with a second central difference of the price in the forward."""
    forward, money, tau, sigma, is_call = option
    strike = forward * money
    stdev = sigma * math.sqrt(tau)
    step = 1e-3 * forward * stdev
    prices = [
        float(at(f, strike, tau, sigma, is_call).price)
        for f in (forward - step, forward, forward + step)
    ]
    second_difference = (prices[0] - 2.0 * prices[1] + prices[2]) / step**2
    gamma = float(at(forward, strike, tau, sigma, is_call).gamma)
    gamma_scale = 1.0 / (math.sqrt(2.0 * math.pi) * forward * stdev)  # gamma at the money
    assert second_difference == pytest.approx(gamma, abs=1e-4 * gamma_scale)


@given(live_options)
def test_vega_is_the_derivative_of_price_in_volatility(
    option: tuple[float, float, float, float, bool],
) -> None:
    """Vega (per 1.00 of vol) agrees with a central finite difference of the price in sigma."""
    forward, money, tau, sigma, is_call = option
    strike = forward * money
    step = 1e-4 * sigma

    def price(s: float) -> float:
        return float(at(forward, strike, tau, s, is_call).price)

    vega = float(at(forward, strike, tau, sigma, is_call).vega)
    vega_scale = forward * math.sqrt(tau) / math.sqrt(2.0 * math.pi)  # vega at the money
    assert central_difference(price, sigma, step) == pytest.approx(vega, abs=1e-6 * vega_scale)


@given(live_options)
def test_theta_is_minus_the_derivative_of_price_in_time_to_expiry(
    option: tuple[float, float, float, float, bool],
) -> None:
    """Theta (per year) agrees with −∂price/∂τ by central finite difference."""
    forward, money, tau, sigma, is_call = option
    strike = forward * money
    step = 1e-4 * tau

    def price(t: float) -> float:
        return float(at(forward, strike, t, sigma, is_call).price)

    theta = float(at(forward, strike, tau, sigma, is_call).theta)
    theta_scale = forward * sigma / (2.0 * math.sqrt(2.0 * math.pi * tau))  # |theta| at the money
    assert -central_difference(price, tau, step) == pytest.approx(theta, abs=1e-6 * theta_scale)


@given(live_options)
def test_price_lies_between_intrinsic_value_and_its_upper_bound(
    option: tuple[float, float, float, float, bool],
) -> None:
    """An option is worth at least its intrinsic value and at most the forward (call) or strike."""
    forward, money, tau, sigma, is_call = option
    strike = forward * money
    price = float(at(forward, strike, tau, sigma, is_call).price)
    intrinsic = max(forward - strike, 0.0) if is_call else max(strike - forward, 0.0)
    tolerance = 1e-12 * max(forward, strike)
    assert price >= intrinsic - tolerance
    assert price <= (forward if is_call else strike) + tolerance


def test_premium_adjusted_delta_reproduces_deribits_example() -> None:
    """A call of delta 0.50 bought for 0.10 BTC adds 0.40 BTC of delta (Deribit's own example)."""
    forward = np.array([40_000.0])
    greeks = OptionGreeks(
        price=0.10 * forward,  # 0.10 BTC worth of USD
        delta=np.array([0.50]),
        gamma=np.zeros(1),
        vega=np.zeros(1),
        theta=np.zeros(1),
    )
    assert coin_price(greeks, forward) == pytest.approx([0.10], rel=1e-15)
    assert premium_adjusted_delta(greeks, forward) == pytest.approx([0.40], rel=1e-15)


@given(live_options)
def test_premium_adjusted_delta_is_delta_minus_coin_premium(
    option: tuple[float, float, float, float, bool],
) -> None:
    """A coin-settled option's coin delta is its Black-76 delta less its premium in coin."""
    forward, money, tau, sigma, is_call = option
    greeks = at(forward, forward * money, tau, sigma, is_call)
    coin_premium = float(greeks.price) / forward
    assert float(coin_price(greeks, forward)) == pytest.approx(coin_premium, rel=1e-15)
    adjusted = float(premium_adjusted_delta(greeks, forward))
    assert adjusted == pytest.approx(float(greeks.delta) - coin_premium, abs=1e-15)
    if is_call:
        assert adjusted <= float(greeks.delta)


def test_premium_adjusted_delta_of_an_at_the_money_call_is_below_one_half() -> None:
    """Near the money a coin-settled call's coin delta sits a premium below its 0.5-ish delta."""
    forward = 50_000.0
    sigma = 0.8
    tau = (0.25 / sigma) ** 2  # σ√τ = 0.25: coin premium ≈ 0.4·σ√τ ≈ 0.10
    greeks = black76(forward, forward, tau, sigma, True)
    premium = float(coin_price(greeks, forward))
    assert premium == pytest.approx(0.10, abs=0.002)
    assert float(greeks.delta) == pytest.approx(0.55, abs=0.002)
    assert float(premium_adjusted_delta(greeks, forward)) == pytest.approx(0.45, abs=0.004)


def test_scalars_broadcast_against_arrays() -> None:
    """One forward, tau and sigma against an array of strikes and flags equals the full arrays."""
    strikes = np.array([30_000.0, 45_000.0, 50_000.0, 60_000.0])
    calls = np.array([True, False, True, False])
    mixed = black76(50_000.0, strikes, 0.1, 0.7, calls)
    full = black76(np.full(4, 50_000.0), strikes, np.full(4, 0.1), np.full(4, 0.7), calls)
    for name in ("price", "delta", "gamma", "vega", "theta"):
        np.testing.assert_array_equal(getattr(mixed, name), getattr(full, name))
        assert getattr(mixed, name).shape == (4,)


def test_broadcasting_builds_a_grid_and_scalars_give_zero_d_arrays() -> None:
    """A column of forwards against a row of strikes gives a grid; all-scalar inputs give 0-d."""
    forwards_column = np.array([[40_000.0], [50_000.0], [60_000.0]])
    strikes_row = np.array([45_000.0, 50_000.0, 55_000.0, 70_000.0])
    grid = black76(forwards_column, strikes_row, 0.2, 0.6, True)
    assert grid.delta.shape == (3, 4)
    one = black76(60_000.0, 55_000.0, 0.2, 0.6, True)
    assert one.delta.shape == ()
    assert grid.delta[2, 2] == one.delta
    assert grid.price.dtype == np.float64


def test_books_spanning_several_blocks_match_option_by_option() -> None:
    """A 20,000-option book, some expired or zero-vol, equals pricing each option alone."""
    rng = np.random.default_rng(7)
    n = 20_000
    forward = rng.uniform(1_000.0, 60_000.0, n)
    strike = forward * np.exp(rng.normal(0.0, 0.4, n))
    tau = rng.uniform(-0.01, 1.0, n)
    sigma = rng.uniform(-0.1, 1.5, n)
    is_call = rng.random(n) < 0.5
    book = black76(forward, strike, tau, sigma, is_call)
    picks = np.unique(
        np.concatenate([rng.integers(0, n, 200), [0, 8191, 8192, 16383, 16384, n - 1]])
    )
    for i in picks:
        alone = black76(forward[i], strike[i], tau[i], sigma[i], is_call[i])
        for name in ("price", "delta", "gamma", "vega", "theta"):
            assert getattr(book, name)[i] == getattr(alone, name), (name, i)


expired_or_flat = st.tuples(
    st.floats(min_value=1.0, max_value=1e6),
    st.floats(min_value=1.0, max_value=1e6),
    st.one_of(st.floats(min_value=-2.0, max_value=0.0), taus),
    st.one_of(st.floats(min_value=-1.0, max_value=0.0), sigmas),
    st.booleans(),
).filter(lambda o: o[2] <= 0.0 or o[3] <= 0.0)


@settings(max_examples=200)
@given(st.lists(expired_or_flat, min_size=1, max_size=20), st.lists(live_options, max_size=5))
def test_expired_and_zero_vol_options_are_worth_intrinsic_value(
    dead: list[tuple[float, float, float, float, bool]],
    live: list[tuple[float, float, float, float, bool]],
) -> None:
    """At τ ≤ 0 or σ ≤ 0: intrinsic value, step delta, zero gamma/vega/theta, no NaN or warning."""
    live_rows = [(f, f * m, t, s, c) for f, m, t, s, c in live]
    forward, strike, tau, sigma, is_call = (
        np.array(column) for column in zip(*dead + live_rows, strict=True)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        greeks = black76(forward, strike, tau, sigma, is_call)
    for name in ("price", "delta", "gamma", "vega", "theta"):
        assert np.isfinite(getattr(greeks, name)).all(), name
    n_dead = len(dead)
    f, k, c = forward[:n_dead], strike[:n_dead], is_call[:n_dead]
    intrinsic = np.where(c, np.maximum(f - k, 0.0), np.maximum(k - f, 0.0))
    np.testing.assert_array_equal(greeks.price[:n_dead], intrinsic)
    call_delta = np.where(f > k, 1.0, np.where(f < k, 0.0, 0.5))
    np.testing.assert_array_equal(greeks.delta[:n_dead], np.where(c, call_delta, call_delta - 1.0))
    for name in ("gamma", "vega", "theta"):
        np.testing.assert_array_equal(getattr(greeks, name)[:n_dead], 0.0)


def test_expired_at_the_money_delta_is_one_half() -> None:
    """Exactly at the money at expiry a call has delta 0.5 and a put −0.5, worth nothing."""
    greeks = black76(50_000.0, 50_000.0, 0.0, 0.8, np.array([True, False]))
    np.testing.assert_array_equal(greeks.delta, [0.5, -0.5])
    np.testing.assert_array_equal(greeks.price, [0.0, 0.0])


def test_vanishing_volatility_is_handled_without_warnings() -> None:
    """A σ√τ small enough to overflow d1² gives finite greeks (or NaN only for NaN input)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        greeks = black76(
            100.0, [90.0, 100.0, 110.0, 100.0], 0.5, [1e-200, 1e-200, 1e-200, np.nan], True
        )
    assert np.isfinite(greeks.delta[:3]).all()
    np.testing.assert_allclose(greeks.delta[[0, 2]], [1.0, 0.0])
    assert np.isnan(greeks.price[3])


def test_far_out_of_the_money_puts_keep_relative_precision() -> None:
    """A far out-of-the-money put's tiny price and delta are computed directly, not by parity."""
    greeks = black76(50_000.0, 10_000.0, 0.1, 0.6, False)
    price, delta = float(greeks.price), float(greeks.delta)
    assert 0.0 < price < 1e-12  # parity (call − F + K) would give 0 here
    assert -1e-15 < delta < 0.0  # N(d1) − 1 would round to 0 here
    call = black76(50_000.0, 10_000.0, 0.1, 0.6, True)
    assert float(call.delta) - 1.0 == pytest.approx(delta, abs=1e-15)


def test_results_are_read_only() -> None:
    """The returned greeks cannot be changed in place by a careless caller."""
    greeks = black76(50_000.0, np.array([45_000.0, 55_000.0]), 0.1, 0.7, True)
    with pytest.raises(ValueError, match="read-only"):
        greeks.delta[0] = 0.0


def test_threads_pricing_at_once_get_the_same_greeks_as_one_thread() -> None:
    """Books priced concurrently from several threads equal the same books priced one by one."""
    rng = np.random.default_rng(11)
    books = []
    for _ in range(8):
        forward = rng.uniform(1_000.0, 60_000.0, 20_000)
        books.append(
            (
                forward,
                forward * np.exp(rng.normal(0.0, 0.3, forward.size)),
                rng.uniform(0.001, 1.0, forward.size),
                rng.uniform(0.2, 1.5, forward.size),
                rng.random(forward.size) < 0.5,
            )
        )
    alone = [black76(*book) for book in books]
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = list(pool.map(lambda book: black76(*book), books))
    for one, other in zip(alone, together, strict=True):
        np.testing.assert_array_equal(one.delta, other.delta)
        np.testing.assert_array_equal(one.price, other.price)
