"""Two independent size figures per position: a misread unit is caught before it is traded on.

Owns `SIZE_TOLERANCE` and `size_problems`: where the venue reports a position's size twice, in
two units (Deribit: `size` in the instrument's amount unit — USD face for inverse perpetuals and
futures, coin otherwise — and `size_currency` in coin), hedgebot converts its own amount to coin
(USD face / mark for inverse contracts) and compares it with the second figure. A disagreement
beyond `SIZE_TOLERANCE` (relative, after rounding of either figure to a lot) means one of the two
is read in the wrong unit, e.g. a linear USDC perpetual's `size` taken as coin when it is USDC:
that position is not valued, so its underlying is incomplete and trading on it holds
(`hedgebot.core.risk`), and the hold reason names the field. Pure and vectorised; it must not
decide anything else.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

SIZE_TOLERANCE = 0.02
"""Largest relative difference of the two coin sizes that is still rounding (2 %): marks of
inverse contracts differ between the venue's conversion and ours by far less; a unit error is
off by a factor of the price (about 10^4-10^5)."""
ABSOLUTE_FLOOR = 1e-9
"""Coin sizes this small on both sides agree whatever their ratio."""


def disagreeing(
    amounts: FloatArray, usd_face: BoolArray, price: FloatArray, second: FloatArray
) -> BoolArray:
    """True where a second coin figure exists and disagrees with the amount converted to coin."""
    coin = np.where(usd_face, amounts / price, amounts)
    known = np.isfinite(second)
    scale = np.maximum(np.maximum(np.abs(coin), np.abs(np.where(known, second, 0.0))), 1e-300)
    off = np.abs(coin - np.where(known, second, coin)) > SIZE_TOLERANCE * scale + ABSOLUTE_FLOOR
    result: BoolArray = known & off
    return result


def size_problem(*, amount: float, usd_face: bool, price: float, second: float, field: str) -> str:
    """The hold reason for one disagreeing position (names the venue's field)."""
    unit = "USD face" if usd_face else "coin"
    coin = amount / price if usd_face else amount
    return (
        f"size {amount:,.6g} ({unit}, {coin:,.6g} coin) disagrees with the venue's "
        f"{field or 'second size'} {second:,.6g} coin: unit or convention error, not valued"
    )


def size_problems(
    amounts: FloatArray,
    usd_face: BoolArray,
    price: FloatArray,
    second: FloatArray,
    fields: Sequence[str],
) -> dict[int, str]:
    """Hold reasons of the disagreeing rows, by row index."""
    bad = np.flatnonzero(disagreeing(amounts, usd_face, price, second))
    return {
        int(i): size_problem(
            amount=float(amounts[i]),
            usd_face=bool(usd_face[i]),
            price=float(price[i]),
            second=float(second[i]),
            field=fields[int(i)] if int(i) < len(fields) else "",
        )
        for i in bad
    }
