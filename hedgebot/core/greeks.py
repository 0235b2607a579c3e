"""Black-76 option prices and greeks, vectorized over whole books of options.

Owns the option maths hedgebot relies on (docs/conventions.md): Black-76 on the forward F of each
expiry with r = 0, time to expiry τ in ACT/365 years, volatility σ as a fraction (Deribit's
`mark_iv`/100). Inputs broadcast like numpy; no Python loop runs over options.

Conventions of the returned `OptionGreeks` (float64 arrays of the broadcast shape of the inputs):

* ``price`` in USD (quote currency) per 1 coin of underlying;
* ``delta`` per 1 coin (call N(d1), put N(d1) − 1), not premium-adjusted;
* ``gamma`` per USD of forward move;
* ``vega`` per 1.00 of volatility (Deribit prints it per vol point: divide by 100);
* ``theta`` in USD per year of calendar time, −∂price/∂τ (a per-day figure is theta / 365).

The arrays are read-only views of one block of memory: copy one before changing it.

At τ ≤ 0 or σ ≤ 0 an option is worth its intrinsic value: delta is 1/0 for calls and 0/−1 for
puts by moneyness (±0.5 exactly at the money) and gamma, vega and theta are 0. Forwards and
strikes must be positive.

Speed: the work runs in blocks of `_BLOCK` options so every intermediate stays in the core's
L2 cache, in five scratch rows each thread allocates once; a block makes about thirty in-place
ufunc passes and two `ndtr` calls, which take some 60 % of the time (benchmarks/bench_greeks.py:
about 40 ns per option at 1e5 options on one core).

It must not know about positions, venues or instruments: callers turn amounts into book delta.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

__all__ = ["OptionGreeks", "black76", "coin_price", "premium_adjusted_delta"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
_Scalar = TypeVar("_Scalar", bound=np.generic)

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_BLOCK = 8192  # options per block: ~15 arrays of 64 KiB stay within a 1 MiB L2
# Below this σ√τ, d1² may overflow (|ln F/K| < 746 for any two positive doubles).
_TINY_STDEV = 1e-150
_SCRATCH = threading.local()  # .rows: five reused rows of _BLOCK floats per thread


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionGreeks:
    """Black-76 price and greeks of a set of options, one element per option (see module doc)."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


@dataclass(frozen=True, slots=True, kw_only=True)
class _Inputs:
    """Inputs as flat rows of n options (copied only if partly broadcast), or 0-d for one value."""

    forward: FloatArray
    strike: FloatArray
    tau: FloatArray
    sigma: FloatArray
    is_call: BoolArray


def black76(
    forward: ArrayLike,
    strike: ArrayLike,
    tau: ArrayLike,
    sigma: ArrayLike,
    is_call: ArrayLike,
) -> OptionGreeks:
    """Price and greeks of European options on a forward, with r = 0, broadcasting all inputs."""
    f = np.asarray(forward, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    t = np.asarray(tau, dtype=np.float64)
    s = np.asarray(sigma, dtype=np.float64)
    c = np.asarray(is_call, dtype=np.bool_)
    shape = f.shape
    if not k.shape == t.shape == s.shape == c.shape == shape:
        shape = np.broadcast_shapes(f.shape, k.shape, t.shape, s.shape, c.shape)
    inputs = _Inputs(
        forward=_flat(f, shape),
        strike=_flat(k, shape),
        tau=_flat(t, shape),
        sigma=_flat(s, shape),
        is_call=_flat(c, shape),
    )
    size = math.prod(shape)
    out = np.empty((5, size))
    scratch = _scratch_rows()
    for start in range(0, size, _BLOCK):
        stop = min(start + _BLOCK, size)
        _black76_block(inputs, out[:, start:stop], scratch[:, : stop - start], start, stop)
    out.flags.writeable = False  # the results are values, like the frozen dataclass holding them
    price, delta, gamma, vega, theta = (row.reshape(shape) for row in out)
    return OptionGreeks(price=price, delta=delta, gamma=gamma, vega=vega, theta=theta)


def _scratch_rows() -> FloatArray:
    """This thread's five scratch rows of `_BLOCK` floats, allocated once.

    Fresh scratch memory of this size is returned to the OS by malloc after each call and then
    costs a page fault per 4 KiB on the next one (about 25 ns per option at 1e4 options).
    """
    rows: FloatArray | None = getattr(_SCRATCH, "rows", None)
    if rows is None:
        rows = np.empty((5, _BLOCK))
        _SCRATCH.rows = rows
    return rows


def _flat(array: NDArray[_Scalar], shape: tuple[int, ...]) -> NDArray[_Scalar]:
    """0-d for a single value (ufuncs broadcast it), else the broadcast array as one flat row."""
    if array.size == 1:
        return array.reshape(())
    if array.shape == shape:
        return array.reshape(-1)
    return np.broadcast_to(array, shape).reshape(-1)


def _block(array: NDArray[_Scalar], start: int, stop: int) -> NDArray[_Scalar]:
    """The [start, stop) options of a flat input; a 0-d input stands for every option."""
    return array if array.ndim == 0 else array[start:stop]


def _black76_block(
    inputs: _Inputs, out: FloatArray, scratch: FloatArray, start: int, stop: int
) -> None:
    """Black-76 for options [start, stop) into the five rows of `out`, using five scratch rows.

    The regular path raises no floating-point flag, so it runs without `np.errstate`. A block
    holding an expired or zero-vol option (or a σ√τ so small that d1² overflows, or a NaN)
    runs under `np.errstate` and has its expired and zero-vol options settled afterwards.
    """
    tau = _block(inputs.tau, start, stop)
    sigma = _block(inputs.sigma, start, stop)
    sqrt_tau, stdev = scratch[0], scratch[1]
    np.maximum(tau, 0.0, out=sqrt_tau)
    np.sqrt(sqrt_tau, out=sqrt_tau)
    np.multiply(sigma, sqrt_tau, out=stdev)
    if stdev.min() > _TINY_STDEV:
        _black76_kernel(inputs, out, scratch, start, stop)
        return
    with np.errstate(all="ignore"):
        _black76_kernel(inputs, out, scratch, start, stop)
    dead = np.logical_or(tau <= 0.0, sigma <= 0.0)
    if dead.any():
        forward = _block(inputs.forward, start, stop)
        strike = _block(inputs.strike, start, stop)
        call = _block(inputs.is_call, start, stop)
        _settle_dead(out, forward, strike, call, np.broadcast_to(dead, (stop - start,)))


def _black76_kernel(
    inputs: _Inputs, out: FloatArray, scratch_rows: FloatArray, start: int, stop: int
) -> None:
    """The Black-76 formulas, in place, given √τ and σ√τ in the first two scratch rows.

    ω is +1 for calls and −1 for puts: price = ω(F N(ωd1) − K N(ωd2)) and delta = ω N(ωd1).
    Writing puts this way rather than by parity keeps their relative precision far from the money.
    """
    f = _block(inputs.forward, start, stop)
    k = _block(inputs.strike, start, stop)
    s = _block(inputs.sigma, start, stop)
    price, delta, gamma, vega, theta = out
    sqrt_tau, stdev, omega, d1, scratch = scratch_rows
    np.multiply(_block(inputs.is_call, start, stop), 2.0, out=omega)
    omega -= 1.0
    np.divide(f, k, out=d1)
    np.log(d1, out=d1)
    d1 /= stdev
    np.multiply(stdev, 0.5, out=scratch)
    d1 += scratch
    omega_d1 = np.multiply(d1, omega, out=delta)
    omega_d2 = np.multiply(omega, stdev, out=scratch)
    np.subtract(omega_d1, omega_d2, out=omega_d2)
    ndtr(omega_d2, out=omega_d2)
    ndtr(omega_d1, out=omega_d1)
    np.multiply(f, omega_d1, out=price)
    omega_d2 *= k
    price -= omega_d2
    price *= omega
    delta *= omega
    pdf = np.square(d1, out=d1)
    pdf *= -0.5
    np.exp(pdf, out=pdf)
    pdf *= _INV_SQRT_2PI
    np.multiply(f, stdev, out=gamma)
    np.divide(pdf, gamma, out=gamma)
    f_pdf = np.multiply(pdf, f, out=pdf)
    np.multiply(f_pdf, sqrt_tau, out=vega)
    np.multiply(f_pdf, s, out=theta)
    theta /= sqrt_tau
    theta *= -0.5


def _settle_dead(
    out: FloatArray, f: FloatArray, k: FloatArray, call: BoolArray, dead: BoolArray
) -> None:
    """Overwrite expired or zero-vol options with intrinsic value and step-function delta."""
    price, delta, gamma, vega, theta = out
    n = dead.shape[0]
    intrinsic = np.broadcast_to(f, (n,))[dead] - np.broadcast_to(k, (n,))[dead]
    call_delta = 0.5 + 0.5 * np.sign(intrinsic)
    is_call = np.broadcast_to(call, (n,))[dead]
    np.negative(intrinsic, out=intrinsic, where=~is_call)
    price[dead] = np.maximum(intrinsic, 0.0)
    delta[dead] = np.where(is_call, call_delta, call_delta - 1.0)
    gamma[dead] = 0.0
    vega[dead] = 0.0
    theta[dead] = 0.0


def coin_price(greeks: OptionGreeks, forward: ArrayLike) -> FloatArray:
    """Premium of coin-settled (inverse) options in coin of the underlying: USD price / F."""
    f = np.asarray(forward, dtype=np.float64)
    return np.divide(
        greeks.price, f, out=np.empty(np.broadcast_shapes(greeks.price.shape, f.shape))
    )


def premium_adjusted_delta(greeks: OptionGreeks, forward: ArrayLike) -> FloatArray:
    """Delta in coin of a coin-settled option, premium paid in coin: Black-76 delta − coin price.

    Deribit's example: a call of delta 0.50 bought for 0.10 BTC adds 0.40 to DeltaTotal.
    """
    adjusted = coin_price(greeks, forward)
    return np.subtract(greeks.delta, adjusted, out=adjusted)
