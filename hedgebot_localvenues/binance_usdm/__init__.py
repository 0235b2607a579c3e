"""A local exchange speaking Binance USDⓈ-M futures' REST and websocket protocol, for
end-to-end tests through unmodified ccxt (``ccxt.pro.binanceusdm`` with its URLs pointed at
127.0.0.1).

* `build_server` / `main` (``hedgebot exchange-sim --venue binanceusdm``), in `cli`;
* `server.BinanceUsdmServer`: ``url``, ``ws_url``, ``faults`` (`FaultPlan`), ``requests``
  (`RequestLog`), ``ledger``;
* `ledger.Ledger`: accounts (one-way or hedge mode), orders, positions, matching;
* `markets`: the listed contracts and ``exchangeInfo``.

What is verified against Binance's documentation and recorded answers and what is assumed is in
README.md beside this file. Importing this package stays cheap: it never imports ccxt.
"""

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``hedgebot exchange-sim --venue binanceusdm``."""
    from hedgebot_localvenues.binance_usdm.cli import main as run

    return run(argv)


__all__ = ["main"]
