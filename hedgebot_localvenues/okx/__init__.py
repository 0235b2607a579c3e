"""A local exchange speaking OKX's v5 REST and websocket protocol for USDT swaps, for end-to-end
tests through unmodified ccxt (``ccxt.pro.okx`` with its URLs pointed at 127.0.0.1):
`cli.build_server`, `server.OkxServer`. What is verified and what is assumed is in README.md
beside this file. Importing this package stays cheap: it never imports ccxt.
"""

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``hedgebot exchange-sim --venue okx``."""
    from hedgebot_localvenues.okx.cli import main as run

    return run(argv)


__all__ = ["main"]
