"""A local exchange speaking Bybit's v5 REST and websocket protocol for linear perpetuals, for
end-to-end tests through unmodified ccxt (``ccxt.pro.bybit`` with its URLs pointed at
127.0.0.1): `cli.build_server`, `server.BybitServer`. What is verified and what is assumed is in
README.md beside this file. Importing this package stays cheap: it never imports ccxt.
"""

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``hedgebot exchange-sim --venue bybit``."""
    from hedgebot_localvenues.bybit.cli import main as run

    return run(argv)


__all__ = ["main"]
