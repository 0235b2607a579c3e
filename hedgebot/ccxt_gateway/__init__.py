"""hedgebot's gateway to real venues through unmodified ccxt (async REST + ccxt.pro websockets).

The only package where ccxt types and exceptions exist. It implements `hedgebot.ports.MarketFeed`
(`CcxtMarketFeed`) and `hedgebot.ports.Broker` (`CcxtBroker`) and converts ccxt's dicts into
hedgebot's frozen values (`markets`, `positions`, `balances`, `quotes`, `order_events`), mapping
every ccxt error once (`errors`).

Importing it is cheap: ccxt is imported inside `exchange_factory` functions only, when an
exchange is actually built.
"""

from hedgebot.ccxt_gateway.account_reads import AccountReader
from hedgebot.ccxt_gateway.broker import CcxtBroker
from hedgebot.ccxt_gateway.exchange_factory import (
    SUPPORTED_EXCHANGES,
    close_exchange,
    create_exchange,
    create_order_entry_exchange,
)
from hedgebot.ccxt_gateway.feed import CcxtMarketFeed
from hedgebot.ccxt_gateway.markets import MarketCatalog, VenueMarket
from hedgebot.ccxt_gateway.retry import Backoff

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
