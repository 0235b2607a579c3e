"""Command line: ``hedgebot run | check-config | init | risk | backtest | status | halt | resume |
flatten-hedges | exchange-sim``.

Owns argument parsing and exit codes only; every command's work lives elsewhere and is imported
lazily, so ``--help``, ``--version`` and ``check-config`` never import ccxt. A configuration
problem exits with status 78 (EX_CONFIG, which systemd's RestartPreventExitStatus honours) and
one line naming the key and the problem; every other failure too has one line and a
documented status (`hedgebot.daemon.exit_status`, mapped in `_fail`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from hedgebot import __version__
from hedgebot.daemon.exit_status import ExitStatus

EX_CONFIG = int(ExitStatus.CONFIG)
EX_NOPERM = int(ExitStatus.CREDENTIALS)
EX_CANTCREAT = int(ExitStatus.CANT_CREATE)
EX_UNAVAILABLE = int(ExitStatus.VENUE_UNAVAILABLE)
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
    run.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    run.add_argument("--duration", type=float, default=None, help="stop after SECONDS")
    run.add_argument("--summary-json", type=Path, default=None, help="write the run summary here")
    run.add_argument("--live", action="store_true", help="required (with mode=live) to trade")

    check = commands.add_parser("check-config", help="validate a config and print it, masked")
    check.add_argument("path", type=Path)

    risk = commands.add_parser(
        "risk", help="one-shot risk report: the live account (read-only) or the paper seed book"
    )
    risk.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    risk.add_argument(
        "--timeout", type=float, default=30.0, help="give up on the venue after SECONDS"
    )

    init = commands.add_parser("init", help="write a commented starter config to edit")
    init.add_argument("path", type=Path, nargs="?", default=Path("hedgebot.toml"))
    init.add_argument(
        "--kind",
        choices=sorted(STARTERS),
        default="simulated",
        help="simulated exchange (default), paper trading on Deribit's real data, or live",
    )

    _add_backtest(commands)
    _add_operator_commands(commands)

    # Its options belong to the local exchange's own parser: `main` hands every argument after
    # `exchange-sim` to it (so `hedgebot exchange-sim --help` lists them); this entry only names
    # the command in `hedgebot --help`.
    sim = commands.add_parser(
        "exchange-sim",
        help="local exchange: Deribit, or --venue binanceusdm|bybit|okx (127.0.0.1)",
        add_help=False,
    )
    sim.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def _add_backtest(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``hedgebot backtest`` (docs/backtest.md)."""
    bt = commands.add_parser(
        "backtest", help="hedge the configured book over Monte Carlo or recorded paths"
    )
    bt.add_argument("--config", type=Path, default=None, help=_CONFIG_HELP)
    bt.add_argument("--underlying", default=None, help="hedged underlying (default: the first)")
    bt.add_argument("--paths", type=int, default=1000, help="Monte Carlo paths")
    bt.add_argument("--days", type=float, default=30.0, help="horizon (capped at first expiry)")
    bt.add_argument("--step-minutes", type=float, default=15.0)
    bt.add_argument("--seed", type=int, default=7)
    bt.add_argument("--spot", type=float, default=None, help="start price (default: simulator's)")
    bt.add_argument("--vol", type=float, default=None, help="total vol (default: simulator's)")
    bt.add_argument("--vol-of-vol", type=float, default=None)
    bt.add_argument("--jumps-per-day", type=float, default=None)
    bt.add_argument("--jump-std", type=float, default=None)
    bt.add_argument("--drift", type=float, default=0.0, help="annual drift of the price")
    bt.add_argument("--rate", type=float, default=0.0, help="annual financing rate")
    bt.add_argument("--fee-bps", type=float, default=5.0)
    bt.add_argument("--half-spread-bps", type=float, default=1.0)
    bt.add_argument("--impact-bps", type=float, default=0.0)
    bt.add_argument("--funding-8h", type=float, default=0.0001, help="perp funding per 8 h")
    bt.add_argument("--candles", type=Path, default=None, help="replay a 1-minute candle CSV")
    bt.add_argument("--chain", type=Path, default=None, help="option chain CSV for implied vol")
    bt.add_argument("--iv", type=float, default=None, help="implied vol for a replay")
    bt.add_argument("--window-days", type=float, default=1.0, help="replay: days per path (window)")
    bt.add_argument(
        "--basis", type=Path, default=None, help="report cross-hedge basis risk of a price file"
    )
    bt.add_argument(
        "--guards", action="store_true", help="hedges pass the config's guards (event engine)"
    )
    bt.add_argument("--engine", choices=["auto", "event", "vectorised"], default="auto")
    bt.add_argument("--out", type=Path, default=Path("backtest-out"), help="output folder")
    bt.add_argument("--calibrate", action="store_true", help="pick the band for a risk budget")
    bt.add_argument("--max-std", type=float, default=None, help="budget: std of P&L, USD")
    bt.add_argument("--max-var95", type=float, default=None, help="budget: VaR 95%%, USD")


def _add_operator_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """status / halt / resume / flatten-hedges: clients of a running daemon's HTTP endpoint."""
    from hedgebot.operator.control_client import TOKEN_ENV, TOKEN_FILE_ENV, default_url

    for name, text in (
        ("status", "show a running daemon's book"),
        ("halt", "halt trading"),
        ("resume", "resume trading"),
        ("flatten-hedges", "halt, then close every hedge position"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument(
            "--url",
            default=None,
            help=f"daemon HTTP endpoint (default {default_url({})}, or the port in "
            "$HEDGEBOT__HTTP__PORT)",
        )
        if name != "status":
            sub.add_argument(
                "--token-env",
                default=TOKEN_ENV,
                help=f"environment variable holding the control token (default {TOKEN_ENV})",
            )
            sub.add_argument(
                "--token-file",
                type=Path,
                default=None,
                help=f"file holding the control token (default: the file in {TOKEN_FILE_ENV})",
            )
        if name == "halt":
            sub.add_argument("--reason", default=None, help="why (journaled and alerted)")


STARTERS = {
    "simulated": "hedgebot.toml",
    "paper-deribit": "paper-deribit.toml",
    "live-deribit": "live-deribit.toml",
}
"""`hedgebot init --kind` -> the starter config shipped in hedgebot/defaults/."""
_CONFIG_HELP = (
    f"TOML config file (default {DEFAULT_CONFIG} when it exists, else the packaged simulated "
    "book, so that `hedgebot run` works in any directory)"
)


def _config(path: Path | None) -> Path:
    """The --config given, else ./config/hedgebot.toml, else the packaged default book."""
    if path is not None:
        return path
    if DEFAULT_CONFIG.is_file():
        return DEFAULT_CONFIG
    return _packaged(STARTERS["simulated"])


def _packaged(name: str) -> Path:
    from importlib.resources import files

    return Path(str(files("hedgebot") / "defaults" / name))


def _init(path: Path, kind: str) -> int:
    """Write a starter config (owner-only, never over an existing file)."""
    import os

    text = _packaged(STARTERS[kind]).read_text(encoding="utf-8")
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        print(f"hedgebot init: {path} exists; not overwriting it", file=sys.stderr)
        return EX_CANTCREAT
    except OSError as exc:
        print(f"hedgebot init: cannot create {path}: {exc.strerror}", file=sys.stderr)
        return EX_CANTCREAT
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text.replace("THIS_FILE", str(path)))
    print(f"wrote {path} ({kind}); edit it, then: hedgebot check-config {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hedgebot`` command."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["exchange-sim"]:
        return _exchange_sim(arguments[1:])
    args = build_parser().parse_args(arguments)
    try:
        return _dispatch(args)
    except (Exception, KeyboardInterrupt) as exc:
        return _fail(exc)


def _fail(exc: BaseException) -> int:
    """The one place a failure becomes one line on stderr and a documented exit status
    (`hedgebot.daemon.exit_status`); a traceback only with HEDGEBOT_DEBUG=1."""
    import os
    import traceback

    from hedgebot.daemon.exit_status import classify
    from hedgebot.operator.logs import REDACTOR

    status, what = classify(exc)
    if os.environ.get("HEDGEBOT_DEBUG") == "1":
        traceback.print_exception(exc, file=sys.stderr)
    text = " ".join(str(exc).split())
    line = f"hedgebot: {what}: {text}" if text else f"hedgebot: {what}"
    print(REDACTOR.mask(line), file=sys.stderr)
    return int(status)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "check-config":
        return _check_config(args.path)
    if args.command == "init":
        return _init(args.path, args.kind)
    if args.command == "run":
        from hedgebot.app import run_daemon

        return asyncio.run(
            run_daemon(
                config=_config(args.config),
                duration_s=args.duration,
                summary_path=args.summary_json,
                live_flag=args.live,
            )
        )
    if args.command == "risk":
        from hedgebot.risk_command import VenueUnreachable, risk_report

        try:
            print(asyncio.run(risk_report(config=_config(args.config), timeout_s=args.timeout)))
        except VenueUnreachable as exc:
            print(f"hedgebot: risk: venue unreachable: {exc}", file=sys.stderr)
            return EX_UNAVAILABLE
        return 0
    if args.command == "backtest":
        return _backtest(args)
    if args.command == "exchange-sim":
        return _exchange_sim(args.rest)
    return _remote(args)


SIM_VENUES = ("deribit", "binanceusdm", "bybit", "okx")


def _exchange_sim(argv: Sequence[str]) -> int:
    """Run the local exchange `--venue` names. `--help` without `--venue` prints every venue's
    options (Deribit's first), each from that venue's own parser."""
    chosen = _sim_venue(argv)
    if chosen is None:
        return 2
    venue, rest = chosen
    names_no_venue = len(rest) == len(argv)
    if names_no_venue and any(a in ("-h", "--help") for a in rest):
        _run_sim(SIM_VENUES[0], ["--help"])
        print(f"  --venue {{{','.join(SIM_VENUES)}}}")
        print(f"                 the exchange to serve (default {SIM_VENUES[0]}); the others:")
        for other in SIM_VENUES[1:]:
            print(f"\n--venue {other}:")
            _run_sim(other, ["--help"])
        return 0
    return _run_sim(venue, rest)


def _run_sim(venue: str, argv: Sequence[str]) -> int:
    # The one import of hedgebot_localvenues from the product, lazy so that no other command
    # loads it (the named exception of the import contracts in pyproject.toml).
    try:
        if venue == "binanceusdm":
            from hedgebot_localvenues.binance_usdm import main as binance_main

            return binance_main(argv)
        if venue == "bybit":
            from hedgebot_localvenues.bybit import main as bybit_main

            return bybit_main(argv)
        if venue == "okx":
            from hedgebot_localvenues.okx import main as okx_main

            return okx_main(argv)
        from hedgebot_localvenues.deribit import main as exchange_main

        return exchange_main(argv)
    except SystemExit as exc:  # argparse: --help (0) or a bad option (2)
        return exc.code if isinstance(exc.code, int) else 2


def _sim_venue(argv: Sequence[str]) -> tuple[str, list[str]] | None:
    """`exchange-sim`'s ``--venue NAME`` (or ``--venue=NAME``; default deribit) and the other
    arguments; None, after one line on stderr, for a venue it cannot serve."""
    args = list(argv)
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
        print(
            f"hedgebot exchange-sim: --venue {venue!r} is not one of {', '.join(SIM_VENUES)}",
            file=sys.stderr,
        )
        return None
    return venue, args


def _check_config(path: Path) -> int:
    from hedgebot.config import config_permission_warning, load_settings, masked_dump

    settings = load_settings(path)
    warning = config_permission_warning(path)
    if warning:
        print(f"hedgebot: warning: {warning}", file=sys.stderr)
    print(json.dumps(masked_dump(settings), indent=2, sort_keys=True))
    return 0


def _backtest(args: argparse.Namespace) -> int:
    from hedgebot.app import backtest
    from hedgebot.backtest.market import MonteCarloSettings
    from hedgebot.backtest.outcome import CostModel
    from hedgebot.backtest.request import BacktestRequest
    from hedgebot.backtest.runner import EngineChoice
    from hedgebot.model.errors import ConfigError

    if args.basis is not None:
        from hedgebot.backtest.basis import basis_table

        try:
            print(basis_table(args.basis))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"backtest: cannot read {args.basis}: {exc}") from None
        return 0
    if args.guards and args.engine == "vectorised":
        raise ConfigError("backtest: --guards runs on the event engine, not --engine vectorised")
    if args.calibrate and args.max_std is None and args.max_var95 is None:
        raise ConfigError("backtest: --calibrate needs --max-std or --max-var95")
    overrides = {
        name: getattr(args, name)
        for name in ("spot", "vol", "vol_of_vol", "jumps_per_day", "jump_std")
        if getattr(args, name) is not None
    }
    try:
        mc = MonteCarloSettings(
            paths=args.paths,
            days=args.days,
            step_minutes=args.step_minutes,
            drift=args.drift,
            seed=args.seed,
        )
    except ValueError as exc:
        raise ConfigError(f"backtest: {exc}") from None
    request = BacktestRequest(
        monte_carlo=mc,
        dynamics=overrides,
        candles=args.candles,
        chain=args.chain,
        implied_vol=args.iv,
        window_days=args.window_days,
        costs=CostModel(
            fee_bps=args.fee_bps,
            half_spread_bps=args.half_spread_bps,
            impact_bps=args.impact_bps,
            funding_rate_8h=args.funding_8h,
            rate=args.rate,
        ),
        engine=EngineChoice(args.engine),
        out_dir=args.out,
        max_std=args.max_std,
        max_var95=args.max_var95,
        calibrate=args.calibrate,
        guards=args.guards,
    )
    return backtest(config=_config(args.config), underlying=args.underlying, request=request)


def _remote(args: argparse.Namespace) -> int:
    """A client command: one line on stdout when it worked; one line on stderr and the status
    of `control_client.ControlError.exit_status` when it did not (docs/operator.md)."""
    import os

    from hedgebot.operator import control_client

    url = args.url or control_client.default_url(os.environ)
    try:
        if args.command == "status":
            print(control_client.render_status_table(control_client.fetch_status(url)))
            return 0
        token = control_client.read_token(os.environ, env=args.token_env, file=args.token_file)
        reason = getattr(args, "reason", None)
        print(control_client.send_control(url, args.command, token, reason=reason))
    except control_client.ControlError as exc:
        print(f"hedgebot {args.command}: {exc}", file=sys.stderr)
        return exc.exit_status
    return 0


if __name__ == "__main__":
    sys.exit(main())
