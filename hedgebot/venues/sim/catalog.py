"""The simulated venue's instrument catalog: Deribit-style symbols parsed into `Instrument`s.

Owns symbol parsing (`sim_instrument`) and the settlement currency of an instrument
(`settlement_currency`). Supported symbols, for any configured underlying ``U``:

* ``U-PERPETUAL``: inverse perpetual, amount in USD face;
* ``U-27MAR26``: inverse dated future expiring 08:00 UTC that day, amount in USD face;
* ``U-27MAR26-100000-C`` / ``-P``: coin-settled European option, amount and premium in coin;
* ``U_USDC-PERPETUAL``: linear perpetual, amount in coin, settled in USDC;
* ``U_USDC``: spot, amount in coin, paid in USDC.

It must not price anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hedgebot.model.instruments import Instrument, Kind, OptionType, Settlement, deribit_expiry_ms
from hedgebot.venues.sim.settings import DEFAULT_UNDERLYINGS, UnderlyingSettings

_INVERSE_PERP = re.compile(r"^([A-Z0-9]+)-PERPETUAL$")
_LINEAR_PERP = re.compile(r"^([A-Z0-9]+)_([A-Z]+)-PERPETUAL$")
_SPOT = re.compile(r"^([A-Z0-9]+)_([A-Z]+)$")
_FUTURE = re.compile(r"^([A-Z0-9]+)-(\d{1,2}[A-Z]{3}\d{2})$")
_OPTION = re.compile(r"^([A-Z0-9]+)-(\d{1,2}[A-Z]{3}\d{2})-(\d+(?:d\d+)?)-([CP])$")
_QUOTE_SUFFIX = re.compile(r"^[A-Z0-9]+_([A-Z]+)(?:-|$)")
_VENUE_ID_QUOTE = re.compile(r"^[A-Z0-9]+?-?(USDT|USDC)(?:-SWAP|_PERP)?$")
"""Linear ids of Binance/Bybit (``BTCUSDT``, ``BTCUSDC``) and OKX (``BTC-USDT-SWAP``)."""


def sim_instrument(
    venue: str,
    symbol: str,
    *,
    underlyings: Iterable[UnderlyingSettings] = DEFAULT_UNDERLYINGS,
) -> Instrument:
    """The instrument `symbol` names on the simulated venue; ValueError if it names none."""
    specs = {u.name: u for u in underlyings}
    if match := _LINEAR_PERP.match(symbol):
        spec = _spec(specs, match[1], symbol)
        return Instrument(
            venue=venue,
            symbol=symbol,
            underlying=spec.name,
            kind=Kind.PERPETUAL,
            contract_size=spec.linear_contract,
            min_amount=spec.linear_contract,
            tick_size=spec.linear_tick,
        )
    if match := _SPOT.match(symbol):
        spec = _spec(specs, match[1], symbol)
        return Instrument(
            venue=venue,
            symbol=symbol,
            underlying=spec.name,
            kind=Kind.SPOT,
            contract_size=spec.spot_contract,
            min_amount=spec.spot_contract,
            tick_size=spec.spot_tick,
        )
    if match := _INVERSE_PERP.match(symbol):
        return _inverse_future(venue, symbol, _spec(specs, match[1], symbol), expiry_ms=None)
    if match := _FUTURE.match(symbol):
        spec = _spec(specs, match[1], symbol)
        return _inverse_future(venue, symbol, spec, expiry_ms=_expiry(match[2], symbol))
    if match := _OPTION.match(symbol):
        return _option(venue, symbol, _spec(specs, match[1], symbol), match)
    raise ValueError(
        f"unknown symbol {symbol!r}: expected U-PERPETUAL, U-DDMMMYY, U-DDMMMYY-STRIKE-C|P, "
        "U_USDC-PERPETUAL or U_USDC"
    )


def settlement_currency(instrument: Instrument) -> str:
    """Currency an instrument's P&L, premium and margin are in: the coin for inverse contracts,
    the quote currency (``BTC_USDC`` -> ``USDC``, ccxt ``BTC/USDT:USDT`` -> ``USDT``, the venue
    ids ``BTCUSDT`` and ``BTC-USDT-SWAP`` -> ``USDT``) otherwise."""
    if instrument.is_inverse:
        return instrument.underlying
    if match := _QUOTE_SUFFIX.match(instrument.symbol):
        return match[1]
    if ":" in instrument.symbol:
        return instrument.symbol.rsplit(":", 1)[1].split("-", 1)[0]
    if match := _VENUE_ID_QUOTE.match(instrument.symbol):
        return match[1]
    if "/" in instrument.symbol:
        return instrument.symbol.split("/", 1)[1]
    return "USD"


def _spec(specs: dict[str, UnderlyingSettings], name: str, symbol: str) -> UnderlyingSettings:
    try:
        return specs[name]
    except KeyError:
        known = ", ".join(sorted(specs))
        raise ValueError(f"{symbol}: unknown underlying {name!r} (known: {known})") from None


def _expiry(code: str, symbol: str) -> int:
    try:
        return deribit_expiry_ms(code)
    except (KeyError, ValueError) as error:
        raise ValueError(f"{symbol}: bad expiry {code!r}") from error


def _inverse_future(
    venue: str, symbol: str, spec: UnderlyingSettings, *, expiry_ms: int | None
) -> Instrument:
    return Instrument(
        venue=venue,
        symbol=symbol,
        underlying=spec.name,
        kind=Kind.PERPETUAL if expiry_ms is None else Kind.FUTURE,
        settlement=Settlement.INVERSE,
        contract_size=spec.inverse_contract_usd,
        min_amount=spec.inverse_contract_usd,
        tick_size=spec.inverse_tick,
        expiry_ms=expiry_ms,
    )


def _option(venue: str, symbol: str, spec: UnderlyingSettings, match: re.Match[str]) -> Instrument:
    strike = float(match[3].replace("d", "."))
    if strike <= 0:
        raise ValueError(f"{symbol}: strike must be positive")
    return Instrument(
        venue=venue,
        symbol=symbol,
        underlying=spec.name,
        kind=Kind.OPTION,
        settlement=Settlement.INVERSE,
        contract_size=spec.option_contract,
        min_amount=spec.option_contract,
        tick_size=spec.option_tick,
        expiry_ms=_expiry(match[2], symbol),
        strike=strike,
        option_type=OptionType.CALL if match[4] == "C" else OptionType.PUT,
    )
