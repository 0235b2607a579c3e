"""ccxt market dicts -> `hedgebot.model.instruments.Instrument`, and the unit bridge between the
two.

Owns `VenueMarket` (an instrument plus what the gateway needs to talk to ccxt about it: the ccxt
symbol, the settlement currency and `amount_scale`, the instrument amount units per ccxt amount
unit) and `MarketCatalog` (every supported market of one venue, by hedgebot symbol and by ccxt
symbol). Hedgebot symbols are the venue's own ids (`BTC-PERPETUAL`, `BTCUSDT`, `BTC-USD-SWAP`).

Units (docs/venues.md): ccxt amounts are *contracts* everywhere except on Deribit, where ccxt passes
Deribit's own amount through (USD for inverse perps/futures, coin for options and linear perps).
So ``amount_scale`` is 1 on Deribit and ``contractSize`` elsewhere (coin for linear contracts, USD
face for Binance COIN-M, Bybit inverse and OKX inverse), which yields the amount unit documented
in `hedgebot.model.instruments` in every case.

It must not import ccxt or perform I/O: it reads plain dicts (recorded or live).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from hedgebot.core.order_rules import OrderRules, RuleBreach, venue_amount
from hedgebot.model.errors import BadVenueData, OrderRejected
from hedgebot.model.instruments import Instrument, Kind, OptionType, Settlement

log = structlog.get_logger(__name__)

DECIMAL_PLACES = 2
TICK_SIZE = 4
"""ccxt precision modes (ccxt.base.decimal_to_precision), copied to avoid importing ccxt."""

_KINDS = {"spot": Kind.SPOT, "swap": Kind.PERPETUAL, "future": Kind.FUTURE, "option": Kind.OPTION}


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueMarket:
    """One instrument and its ccxt identity and units."""

    instrument: Instrument
    ccxt_symbol: str
    settle: str
    """Settlement currency id on the venue (Deribit scopes many private calls by it)."""
    amount_scale: float
    """Instrument amount units per ccxt amount unit."""
    venue_step: float
    """Smallest increment of a ccxt order amount."""
    venue_min: float
    """Smallest ccxt order amount."""
    min_notional: float | None = None
    """Smallest order value in the quote currency (ccxt ``limits.cost.min``; linear only)."""

    @property
    def rules(self) -> OrderRules:
        """The order rules of this market (`hedgebot.core.order_rules`)."""
        return OrderRules(
            symbol=self.instrument.symbol,
            step=self.venue_step,
            min_amount=self.venue_min,
            amount_scale=self.amount_scale,
            min_notional=self.min_notional,
        )

    def from_venue_amount(self, venue_amount: float) -> float:
        """A ccxt amount (contracts, or Deribit's own amount) in the instrument's amount unit."""
        return venue_amount * self.amount_scale

    def venue_order_amount(self, amount: float, price: float | None = None) -> float:
        """The ccxt amount for an order of `amount` (instrument units) at limit `price`,
        truncated to the step (`hedgebot.core.order_rules`).

        The result never exceeds the requested size. Raises OrderRejected, before anything is
        sent, below the minimum amount or (with a price) below the minimum order value.
        """
        result = venue_amount(self.rules, amount, price)
        if isinstance(result, RuleBreach):
            raise OrderRejected(result.reason)
        return result


def venue_market_from_ccxt(
    market: Mapping[str, Any], *, venue: str, exchange_id: str, precision_mode: int = TICK_SIZE
) -> VenueMarket | None:
    """The VenueMarket of one ccxt market dict; None for markets hedgebot does not trade.

    Raises BadVenueData when a supported market has missing or absurd fields.
    """
    symbol = _text(market, "id")
    if _is_unsupported(market):
        return None
    kind = _KINDS[str(market["type"])]
    base = _text(market, "base")
    settle = str(market.get("settle") or market.get("quote") or "")
    settlement = _settlement(market, base=base, settle=settle)
    scale = (
        1.0 if exchange_id == "deribit" or kind is Kind.SPOT else _positive(market, "contractSize")
    )
    precision = _mapping(market.get("precision"))
    step = _step(precision.get("amount"), precision_mode, symbol, "amount")
    limits = _mapping(_mapping(market.get("limits")).get("amount"))
    venue_min = _optional_positive(limits.get("min")) or step
    tick = _step(precision.get("price"), precision_mode, symbol, "price")
    try:
        instrument = Instrument(
            venue=venue,
            symbol=symbol,
            underlying=base,
            kind=kind,
            settlement=settlement,
            contract_size=step * scale,
            min_amount=venue_min * scale,
            tick_size=tick,
            expiry_ms=_expiry(market, kind),
            strike=_optional_positive(market.get("strike")) if kind is Kind.OPTION else None,
            option_type=_option_type(market) if kind is Kind.OPTION else None,
        )
    except ValueError as exc:  # Instrument's own validation
        raise BadVenueData(f"{symbol}: {exc}") from None
    return VenueMarket(
        instrument=instrument,
        ccxt_symbol=_text(market, "symbol"),
        settle=str(market.get("settleId") or settle),
        amount_scale=scale,
        venue_step=step,
        venue_min=venue_min,
        min_notional=_min_notional(market, settlement),
    )


class MarketCatalog:
    """Every supported market of one venue, by hedgebot symbol and by ccxt symbol."""

    def __init__(self, markets: Iterable[VenueMarket]) -> None:
        self._by_symbol: dict[str, VenueMarket] = {}
        self._by_ccxt: dict[str, VenueMarket] = {}
        for market in markets:
            known = self._by_symbol.get(market.instrument.symbol)
            if known is not None and known.instrument.kind is not Kind.SPOT:
                continue  # a venue id shared by spot and a contract names the contract
            self._by_symbol[market.instrument.symbol] = market
            self._by_ccxt[market.ccxt_symbol] = market

    @classmethod
    def from_ccxt(
        cls,
        markets: Mapping[str, Mapping[str, Any]],
        *,
        venue: str,
        exchange_id: str,
        precision_mode: int = TICK_SIZE,
    ) -> MarketCatalog:
        """Build from ccxt's ``exchange.markets``, skipping (and logging) malformed markets."""
        parsed: list[VenueMarket] = []
        for ccxt_symbol, market in markets.items():
            try:
                converted = venue_market_from_ccxt(
                    market, venue=venue, exchange_id=exchange_id, precision_mode=precision_mode
                )
            except (BadVenueData, ValueError, KeyError, TypeError) as exc:
                log.warning("markets.skipped", venue=venue, symbol=ccxt_symbol, reason=str(exc))
                continue
            if converted is not None:
                parsed.append(converted)
        contracts_first = sorted(parsed, key=lambda m: m.instrument.kind is Kind.SPOT)
        return cls(contracts_first)

    def __len__(self) -> int:
        return len(self._by_symbol)

    def get(self, symbol: str) -> VenueMarket:
        """The market of a hedgebot symbol; BadVenueData if the venue does not list it."""
        try:
            return self._by_symbol[symbol]
        except KeyError:
            raise BadVenueData(f"unknown instrument {symbol!r} on this venue") from None

    def by_ccxt_symbol(self, ccxt_symbol: str | None) -> VenueMarket | None:
        """The market of a ccxt unified symbol, None if unknown or unsupported."""
        if ccxt_symbol is None:
            return None
        return self._by_ccxt.get(ccxt_symbol)

    @property
    def instruments(self) -> tuple[Instrument, ...]:
        """Every supported instrument, sorted by symbol."""
        return tuple(self._by_symbol[s].instrument for s in sorted(self._by_symbol))

    @property
    def settle_currencies(self) -> tuple[str, ...]:
        """Distinct settlement currency ids of the contracts (Deribit private calls use these)."""
        contracts = (m for m in self._by_symbol.values() if m.instrument.kind is not Kind.SPOT)
        return tuple(sorted({m.settle for m in contracts}))


def _is_unsupported(market: Mapping[str, Any]) -> bool:
    kind = market.get("type")
    if not isinstance(kind, str) or kind not in _KINDS or market.get("active") is False:
        return True
    info = market.get("info") or {}
    raw_kind = str(info.get("kind", "")) if isinstance(info, Mapping) else ""
    return "combo" in raw_kind


def _settlement(market: Mapping[str, Any], *, base: str, settle: str) -> Settlement:
    """Inverse when the contract settles in its own base coin; ccxt's flags must not disagree."""
    if market.get("type") == "spot":
        return Settlement.LINEAR
    inverse = settle == base and settle != market.get("quote")
    flagged_inverse, flagged_linear = market.get("inverse"), market.get("linear")
    if (inverse and flagged_linear is True) or (not inverse and flagged_inverse is True):
        raise BadVenueData(
            f"{market.get('id')}: settles in {settle} but ccxt says "
            f"linear={flagged_linear} inverse={flagged_inverse}"
        )
    return Settlement.INVERSE if inverse else Settlement.LINEAR


def _expiry(market: Mapping[str, Any], kind: Kind) -> int | None:
    if kind not in (Kind.FUTURE, Kind.OPTION):
        return None  # ccxt gives Deribit perpetuals an expiry in the year 3000
    expiry = market.get("expiry")
    if not isinstance(expiry, int | float) or not math.isfinite(expiry) or expiry <= 0:
        raise BadVenueData(f"{market.get('id')}: a dated contract without an expiry")
    return int(expiry)


def _option_type(market: Mapping[str, Any]) -> OptionType:
    raw = str(market.get("optionType") or "").lower()
    if raw not in ("call", "put"):
        raise BadVenueData(f"{market.get('id')}: option type {raw!r}")
    return OptionType(raw)


def _step(value: Any, precision_mode: int, symbol: str, what: str) -> float:
    if precision_mode == DECIMAL_PLACES and isinstance(value, int | float) and 0 <= value <= 30:
        return 10.0 ** (-int(value))
    number = _optional_positive(value)
    if precision_mode != TICK_SIZE or number is None:
        raise BadVenueData(
            f"{symbol}: no usable {what} precision ({value!r}, mode {precision_mode})"
        )
    return number


def _min_notional(market: Mapping[str, Any], settlement: Settlement) -> float | None:
    """ccxt's ``limits.cost.min`` of a linear contract (Binance MIN_NOTIONAL, Bybit
    minNotionalValue); inverse contracts count value in coin and have no such rule here."""
    if settlement is Settlement.INVERSE:
        return None
    return _optional_positive(_mapping(_mapping(market.get("limits")).get("cost")).get("min"))


def _positive(market: Mapping[str, Any], key: str) -> float:
    number = _optional_positive(market.get(key))
    if number is None:
        raise BadVenueData(f"{market.get('id')}: {key} must be a positive number")
    return number


def _optional_positive(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(market: Mapping[str, Any], key: str) -> str:
    value = market.get(key)
    if not isinstance(value, str) or not value:
        raise BadVenueData(f"market without {key}: {market.get('id')!r}")
    return value
