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
EX_UNAVAILABLE = 69
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

    risk = commands.add_parser(
        "risk", help="one-shot risk report: the live account (read-only) or the paper seed book"
    )
    risk.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    risk.add_argument(
        "--timeout", type=float, default=30.0, help="give up on the venue after SECONDS"
    )

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
        from hedgebot.risk_command import VenueUnreachable, risk_report

        try:
            print(asyncio.run(risk_report(config=args.config, timeout_s=args.timeout)))
        except VenueUnreachable as exc:
            print(f"hedgebot: risk: venue unreachable: {exc}", file=sys.stderr)
            return EX_UNAVAILABLE
        return 0
    if args.command == "exchange-sim":
        # The one import of hedgebot_localvenues from the product, lazy so that no other command
        # loads it (the named exception of the import contracts in pyproject.toml).
        from hedgebot_localvenues.deribit import main as exchange_main

        return exchange_main(args.rest)
    return _remote(args)


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
