"""Coin delta and gamma of linear and inverse futures, perpetuals, spot and collateral.

Owns the unit conventions of docs/conventions.md for everything that is not an option (options go
through `hedgebot.core.risk`, vectorised over `hedgebot.core.greeks`):

* linear perp / future / spot: amount in coin, delta = amount;
* inverse perp / future of USD face N: delta = N / F, and ``dΔ/dF = −N/F²`` (convexity);
* coin collateral (or coin equity) counts as delta where the account says so.

Deltas are "coin of the underlying"; gammas are coin per USD of the underlying's price.
"""

from __future__ import annotations

from hedgebot.model.instruments import Instrument, Kind


def futures_delta(instrument: Instrument, amount: float, price: float) -> float:
    """Signed coin delta of a non-option position of `amount` (in the instrument's amount unit)."""
    if instrument.kind is Kind.OPTION:
        raise ValueError(f"{instrument.symbol}: options go through hedgebot.core.risk")
    if price <= 0:
        raise ValueError(f"{instrument.symbol}: price must be positive, got {price}")
    if instrument.amount_is_usd:
        return amount / price
    return amount


def futures_gamma(instrument: Instrument, amount: float, price: float) -> float:
    """dΔ/dF of a non-option position: zero for linear, −N/F² for inverse USD face N."""
    if instrument.amount_is_usd:
        return -amount / (price * price)
    return 0.0


def coin_to_amount(instrument: Instrument, coin: float, price: float) -> float:
    """The instrument amount (coin, or USD face for inverse) whose delta is `coin` at `price`."""
    if instrument.kind is Kind.OPTION:
        raise ValueError(f"{instrument.symbol}: options are not hedge instruments")
    return coin * price if instrument.amount_is_usd else coin


def amount_unit(instrument: Instrument) -> str:
    """The unit of the instrument's amounts, for people: "USD face" (inverse) or "coin"."""
    return "USD face" if instrument.amount_is_usd else "coin"


def lot_in_coin(instrument: Instrument, price: float) -> float:
    """The delta, in coin, of one contract of a hedge instrument at `price`."""
    return abs(futures_delta(instrument, instrument.contract_size, price))
