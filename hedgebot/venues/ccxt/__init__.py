"""hedgebot's gateway to real venues through unmodified ccxt (async REST + ccxt.pro websockets).

The only package where ccxt types and exceptions exist. It implements
`hedgebot.venues.ports.MarketFeed` (`CcxtMarketFeed`) and `hedgebot.venues.ports.Broker`
(`CcxtBroker`) and converts ccxt's dicts into hedgebot's frozen values (`markets`, `positions`,
`balances`, `quotes`, `order_events`), mapping every ccxt error once (`errors`).

Importing it is cheap: ccxt is imported inside `exchange_factory` functions only, when an
exchange is actually built.
"""

from hedgebot.venues.ccxt.account_reads import AccountReader
from hedgebot.venues.ccxt.broker import CcxtBroker
from hedgebot.venues.ccxt.exchange_factory import (
    SUPPORTED_EXCHANGES,
    close_exchange,
    create_exchange,
    create_order_entry_exchange,
)
from hedgebot.venues.ccxt.feed import CcxtMarketFeed
from hedgebot.venues.ccxt.markets import MarketCatalog, VenueMarket
from hedgebot.venues.ccxt.retry import Backoff

__all__ = [
    "SUPPORTED_EXCHANGES",
    "AccountReader",
    "Backoff",
    "CcxtBroker",
    "CcxtMarketFeed",
    "MarketCatalog",
    "VenueMarket",
    "close_exchange",
    "create_exchange",
    "create_order_entry_exchange",
]
