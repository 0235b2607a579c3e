"""Deribit subscription channel names, parsed.

Owns `Channel` and `parse_channel` for the channels the local exchange serves:

* public: ``ticker.{instrument}.{interval}``, ``book.{instrument}.{interval}``,
  ``book.{instrument}.{group}.{depth}.{interval}``, ``quote.{instrument}``,
  ``trades.{instrument}.{interval}``, ``deribit_price_index.{index_name}``;
* private: ``user.orders|trades|changes.{instrument}.{interval}``,
  ``user.orders|trades|changes.{kind}.{currency}.{interval}``, ``user.portfolio.{currency}``.

Intervals are ``raw``, ``100ms`` or ``agg2``; Deribit serves ``raw`` market data only to
authorised connections. It must not send anything.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from hedgebot.model.instruments import Instrument
from hedgebot_localvenues.deribit.wire_market import kind_of, settlement_currency_of

INTERVALS = ("raw", "100ms", "agg2")
KINDS = ("any", "future", "option", "spot", "future_combo", "option_combo")
MARKET_FAMILIES = ("ticker", "book", "quote", "trades", "deribit_price_index")
USER_FAMILIES = ("user.orders", "user.trades", "user.changes")


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """One parsed channel name."""

    name: str
    family: str
    """ticker, book, quote, trades, deribit_price_index, user.orders, user.trades, user.changes
    or user.portfolio."""
    instrument: str | None = None
    kind: str = "any"
    currency: str = "any"
    interval: str = "100ms"
    index_name: str | None = None
    depth: int | None = None

    @property
    def private(self) -> bool:
        """True for the user.* channels (private/subscribe, authorised connections only)."""
        return self.family.startswith("user.")

    @property
    def needs_auth(self) -> bool:
        """True when only an authorised connection may subscribe."""
        return self.private or self.interval == "raw"

    def covers(self, instrument: Instrument) -> bool:
        """True when events of `instrument` belong on this channel."""
        if self.instrument is not None:
            return self.instrument == instrument.symbol
        currency_ok = self.currency.lower() in ("any", settlement_currency_of(instrument).lower())
        return currency_ok and self.kind in ("any", kind_of(instrument))


def parse_channel(
    name: str, *, instruments: Collection[str], index_names: Collection[str]
) -> Channel | None:
    """The channel `name` stands for, or None if the exchange does not serve it."""
    parts = name.split(".")
    head = parts[0]
    if head == "user":
        return _parse_user(name, parts[1:], instruments)
    if head == "deribit_price_index" and len(parts) == 2 and parts[1] in index_names:
        return Channel(name=name, family=head, index_name=parts[1])
    if head == "quote" and len(parts) == 2 and parts[1] in instruments:
        return Channel(name=name, family=head, instrument=parts[1])
    if head in ("ticker", "trades") and len(parts) == 3:
        return _instrument_channel(name, head, parts[1], parts[2], instruments)
    if head == "book" and len(parts) == 3:
        return _instrument_channel(name, head, parts[1], parts[2], instruments)
    if head == "book" and len(parts) == 5 and parts[3].isdigit():
        channel = _instrument_channel(name, head, parts[1], parts[4], instruments)
        if channel is None:
            return None
        return Channel(
            name=name,
            family=head,
            instrument=channel.instrument,
            interval=channel.interval,
            depth=int(parts[3]),
        )
    return None


def _instrument_channel(
    name: str, family: str, symbol: str, interval: str, instruments: Collection[str]
) -> Channel | None:
    if symbol not in instruments or interval not in INTERVALS:
        return None
    return Channel(name=name, family=family, instrument=symbol, interval=interval)


def _parse_user(name: str, parts: list[str], instruments: Collection[str]) -> Channel | None:
    if len(parts) == 2 and parts[0] == "portfolio":
        return Channel(name=name, family="user.portfolio", currency=parts[1].upper())
    if not parts or f"user.{parts[0]}" not in USER_FAMILIES:
        return None
    family = f"user.{parts[0]}"
    if len(parts) == 3 and parts[1] in instruments and parts[2] in INTERVALS:
        return Channel(name=name, family=family, instrument=parts[1], interval=parts[2])
    if len(parts) == 4 and parts[1] in KINDS and parts[3] in INTERVALS:
        return Channel(
            name=name, family=family, kind=parts[1], currency=parts[2], interval=parts[3]
        )
    return None
