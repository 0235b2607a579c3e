"""Command line: ``hedgebot run | check-config | risk | status | halt | resume | exchange-sim``.

Owns argument parsing and exit codes only; every command's work lives elsewhere and is imported
lazily, so ``--help``, ``--version`` and ``check-config`` never import ccxt. A configuration
problem exits with status 78 (EX_CONFIG, which systemd's RestartPreventExitStatus honours) and
one line naming the key and the problem.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from hedgebot import __version__

EX_CONFIG = 78
EX_NOPERM = 77
DEFAULT_CONFIG = Path("config/hedgebot.toml")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = argparse.ArgumentParser(
        prog="hedgebot",
        description="Keeps crypto derivatives books delta-neutral.",
    )
    parser.add_argument("--version", action="version", version=f"hedgebot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the hedging daemon")
    run.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="TOML config file")
    run.add_argument("--duration", type=float, default=None, help="stop after SECONDS")
    run.add_argument("--summary-json", type=Path, default=None, help="write the run summary here")
    run.add_argument("--live", action="store_true", help="required (with mode=live) to trade")

    check = commands.add_parser("check-config", help="validate a config and print it, masked")
    check.add_argument("path", type=Path)

    risk = commands.add_parser("risk", help="one-shot risk report of the configured book")
    risk.add_argument("--config", type=Path, default=DEFAULT_CONFIG)

    for name, text in (
        ("status", "show a running daemon's book"),
        ("halt", "halt trading"),
        ("resume", "resume trading"),
        ("flatten-hedges", "halt, then close every hedge position"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--url", default="http://127.0.0.1:9102", help="daemon HTTP endpoint")
        if name != "status":
            sub.add_argument(
                "--token-env",
                default="HEDGEBOT__HTTP__CONTROL_TOKEN",
                help="environment variable holding the control token",
            )
        if name == "halt":
            sub.add_argument("--reason", default=None, help="why (journaled and alerted)")

    sim = commands.add_parser(
        "exchange-sim", help="local Deribit-protocol exchange (127.0.0.1)", add_help=False
    )
    # `--venue deribit|binanceusdm` (default deribit) is taken out of the rest by
    # `_sim_venue`: argparse cannot mix an option with a REMAINDER that starts with options.
    sim.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hedgebot`` command."""
    args = build_parser().parse_args(argv)
    from hedgebot.model.errors import AuthenticationFailed, ConfigError

    try:
        return _dispatch(args)
    except ConfigError as exc:
        print(f"hedgebot: config error: {exc}", file=sys.stderr)
        return EX_CONFIG
    except AuthenticationFailed as exc:
        print(f"hedgebot: credentials refused: {exc}", file=sys.stderr)
        return EX_NOPERM
    except KeyboardInterrupt:
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check-config":
        return _check_config(args.path)
    if args.command == "run":
        from hedgebot.app import run_daemon

        return asyncio.run(
            run_daemon(
                config=args.config,
                duration_s=args.duration,
                summary_path=args.summary_json,
                live_flag=args.live,
            )
        )
    if args.command == "risk":
        from hedgebot.app import risk_report

        print(asyncio.run(risk_report(config=args.config)))
        return 0
    if args.command == "exchange-sim":
        return _exchange_sim(args.rest)
    return _remote(args)


SIM_VENUES = ("deribit", "binanceusdm", "bybit")


def _exchange_sim(argv: Sequence[str]) -> int:
    # The one import of hedgebot_localvenues from the product, lazy so that no other command
    # loads it (the named exception of the import contracts in pyproject.toml).
    venue, rest = _sim_venue(argv)
    if venue == "binanceusdm":
        from hedgebot_localvenues.binance_usdm import main as binance_main

        return binance_main(rest)
    if venue == "bybit":
        from hedgebot_localvenues.bybit import main as bybit_main

        return bybit_main(rest)
    from hedgebot_localvenues.deribit import main as exchange_main

    return exchange_main(rest)


def _sim_venue(rest: Sequence[str]) -> tuple[str, list[str]]:
    """`exchange-sim`'s ``--venue NAME`` (or ``--venue=NAME``) and the other arguments."""
    args = list(rest)
    venue = "deribit"
    for position, arg in enumerate(args):
        if arg == "--venue" and position + 1 < len(args):
            venue = args[position + 1]
            del args[position : position + 2]
            break
        if arg.startswith("--venue="):
            venue = arg.split("=", 1)[1]
            del args[position]
            break
    if venue not in SIM_VENUES:
        from hedgebot.model.errors import ConfigError

        raise ConfigError(f"exchange-sim --venue: {venue!r} is not one of {', '.join(SIM_VENUES)}")
    return venue, args


def _check_config(path: Path) -> int:
    from hedgebot.config import load_settings, masked_dump, world_readable_warning

    settings = load_settings(path)
    warning = world_readable_warning(path)
    if warning:
        print(f"hedgebot: warning: {warning}", file=sys.stderr)
    print(json.dumps(masked_dump(settings), indent=2, sort_keys=True))
    return 0


def _remote(args: argparse.Namespace) -> int:
    import os

    from hedgebot.operator import control_client

    if args.command == "status":
        print(control_client.render_status_table(control_client.fetch_status(args.url)))
        return 0
    token = os.environ.get(args.token_env, "")
    reason = getattr(args, "reason", None)
    print(control_client.send_control(args.url, args.command, token, reason=reason))
    return 0


if __name__ == "__main__":
    sys.exit(main())
