"""hedgebot's built-in venues without keys or network: the simulated exchange and paper trading.

* `SimulatedExchange`: deterministic synthetic market (`SyntheticMarket`) + matching `Ledger`,
  driven by a `SimulatedClock`; a `MarketFeed` with `broker(account)` `Broker`s.
* `PaperExchange`: the same `Ledger` fed by quotes from any real `MarketFeed`.
* `sim_instrument`: the Deribit-style instrument catalog of the simulator.

Market generation (paths, smile, market) and matching/accounting (book, ledger, accounts,
margin, fees) are separate modules; only `exchange` composes them. This package must not do
network I/O or read the wall clock.
"""

from hedgebot.venues.sim.accounts import AccountSeed, SimAccounts
from hedgebot.venues.sim.book import BookLevel, OrderBook
from hedgebot.venues.sim.brokerage import Desk, LedgerBroker
from hedgebot.venues.sim.catalog import settlement_currency, sim_instrument
from hedgebot.venues.sim.exchange import SimulatedExchange
from hedgebot.venues.sim.ledger import Ledger, LedgerEvent
from hedgebot.venues.sim.market import SyntheticMarket
from hedgebot.venues.sim.paper import PaperExchange
from hedgebot.venues.sim.settings import (
    BTC,
    DEFAULT_START_MS,
    DEFAULT_UNDERLYINGS,
    ETH,
    SOL,
    BookSettings,
    FeeSettings,
    MarketSettings,
    UnderlyingSettings,
)

__all__ = [
    "BTC",
    "DEFAULT_START_MS",
    "DEFAULT_UNDERLYINGS",
    "ETH",
    "SOL",
    "AccountSeed",
    "BookLevel",
    "BookSettings",
    "Desk",
    "FeeSettings",
    "Ledger",
    "LedgerBroker",
    "LedgerEvent",
    "MarketSettings",
    "OrderBook",
    "PaperExchange",
    "SimAccounts",
    "SimulatedExchange",
    "SyntheticMarket",
    "UnderlyingSettings",
    "settlement_currency",
    "sim_instrument",
]
