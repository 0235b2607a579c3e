"""A local exchange speaking Deribit's real API v2 wire protocol, for end-to-end tests.

Unmodified ccxt (``ccxt.async_support.deribit`` / ``ccxt.pro.deribit`` with ``urls['api']``
pointed at 127.0.0.1) trades against hedgebot's simulated venue through it: JSON-RPC over HTTP
(``/api/v2/{scope}/{method}``) and websocket (``/ws/api/v2``) with subscriptions, Deribit's
authentication and error codes, fault injection and a log of every call.

* `serve` / `main`: run it (``hedgebot exchange-sim``); `build_server` composes one for tests.
* `DeribitSimServer`: ``url``, ``ws_url``, ``faults`` (`FaultController`), ``requests``
  (`RequestLog`), ``advance(seconds)``.
* `SimBook` / `load_book` / `DEFAULT_BOOK`: listed symbols, accounts, keys, seeded positions.

Importing this package must stay cheap: it never imports ccxt.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hedgebot_localvenues.deribit.book_config import (
        DEFAULT_BOOK,
        SimAccount,
        SimBook,
        load_book,
    )
    from hedgebot_localvenues.deribit.cli import build_server, main, serve
    from hedgebot_localvenues.deribit.faults import FaultController, LossMode
    from hedgebot_localvenues.deribit.requestlog import (
        ORDER_ENTRY_METHODS,
        RequestLog,
        RequestRecord,
    )
    from hedgebot_localvenues.deribit.server import DeribitSimServer

_EXPORTS = {
    "DEFAULT_BOOK": "book_config",
    "SimAccount": "book_config",
    "SimBook": "book_config",
    "load_book": "book_config",
    "build_server": "cli",
    "main": "cli",
    "serve": "cli",
    "FaultController": "faults",
    "LossMode": "faults",
    "ORDER_ENTRY_METHODS": "requestlog",
    "RequestLog": "requestlog",
    "RequestRecord": "requestlog",
    "DeribitSimServer": "server",
}


def __getattr__(name: str) -> Any:
    """Import exports on first use, so importing the package (and ``--help``) stays cheap."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = [
    "DEFAULT_BOOK",
    "ORDER_ENTRY_METHODS",
    "DeribitSimServer",
    "FaultController",
    "LossMode",
    "RequestLog",
    "RequestRecord",
    "SimAccount",
    "SimBook",
    "build_server",
    "load_book",
    "main",
    "serve",
]
