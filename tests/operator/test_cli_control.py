"""`hedgebot status / halt / resume` against a real endpoint on 127.0.0.1: one line and a
distinct exit status for each way it can fail, the token from the environment or a file, and
the default port the daemon uses too."""

from __future__ import annotations

import asyncio
import socket
import tomllib
from pathlib import Path

import pytest

from hedgebot import cli
from hedgebot.operator.control_client import (
    EXIT_CONTROL_DISABLED,
    EXIT_NO_DAEMON,
    EXIT_TOKEN_REFUSED,
    default_url,
)
from hedgebot.operator.http_api import OperatorServer
from hedgebot.operator.metrics import Metrics
from tests.operator.test_http_api import TOKEN, FakeView

ROOT = Path(__file__).resolve().parents[2]


async def _cli(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, list(argv))


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(autouse=True)
def _no_operator_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HEDGEBOT__HTTP__CONTROL_TOKEN",
        "HEDGEBOT__HTTP__CONTROL_TOKEN_FILE",
        "HEDGEBOT__HTTP__PORT",
    ):
        monkeypatch.delenv(name, raising=False)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("command", ["status", "halt", "resume", "flatten-hedges"])
async def test_no_daemon_is_one_line_and_status_69(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert await _cli(command, "--url", url) == EXIT_NO_DAEMON
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert out == ""
    assert line.startswith(f"hedgebot {command}: no daemon answering at {url}")


async def test_control_disabled_is_status_78_and_says_how_to_enable_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    view = FakeView()
    monkeypatch.setenv("HEDGEBOT__HTTP__CONTROL_TOKEN", "whatever")
    async with OperatorServer(view, Metrics(process_collectors=False), port=0) as server:
        assert await _cli("halt", "--url", server.url) == EXIT_CONTROL_DISABLED
    line = _one_line(capsys.readouterr().err)
    assert "control is disabled" in line
    assert "HEDGEBOT__HTTP__CONTROL_TOKEN" in line
    assert "whatever" not in line
    assert view.halts == []


async def test_missing_and_wrong_tokens_are_status_77_with_different_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    view = FakeView()
    async with OperatorServer(
        view, Metrics(process_collectors=False), port=0, control_token=TOKEN
    ) as server:
        assert await _cli("resume", "--url", server.url) == EXIT_TOKEN_REFUSED
        missing = _one_line(capsys.readouterr().err)
        monkeypatch.setenv("HEDGEBOT__HTTP__CONTROL_TOKEN", "guess-123")
        assert await _cli("resume", "--url", server.url) == EXIT_TOKEN_REFUSED
        wrong = _one_line(capsys.readouterr().err)
    assert "no control token given" in missing
    assert "refused the control token" in wrong
    assert "guess-123" not in wrong
    assert view.resumes == 0


async def test_token_from_a_file_and_port_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI finds the daemon on HEDGEBOT__HTTP__PORT (as the daemon does) and reads the token
    from --token-file or from the file named by HEDGEBOT__HTTP__CONTROL_TOKEN_FILE."""
    secret = tmp_path / "control_token"
    secret.write_text(TOKEN.get_secret_value() + "\n")
    view = FakeView()
    async with OperatorServer(
        view, Metrics(process_collectors=False), port=0, control_token=TOKEN
    ) as server:
        monkeypatch.setenv("HEDGEBOT__HTTP__PORT", str(server.port))
        assert await _cli("halt", "--reason", "maintenance", "--token-file", str(secret)) == 0
        assert capsys.readouterr().out.strip() == "halt requested: maintenance"
        monkeypatch.setenv("HEDGEBOT__HTTP__CONTROL_TOKEN_FILE", str(secret))
        assert await _cli("resume") == 0
        assert await _cli("status") == 0
        assert "trading state: active" in capsys.readouterr().out
    assert (view.halts, view.resumes) == (["maintenance"], 1)


def test_shipped_configs_listen_where_the_cli_looks() -> None:
    """Every shipped config's endpoint is the CLI's default URL, so `hedgebot status` needs no
    --url after any README example."""
    for path in sorted((ROOT / "config").glob("*.toml")):
        port = tomllib.loads(path.read_text())["http"]["port"]
        assert default_url({}) == f"http://127.0.0.1:{port}", path.name


def test_status_table_says_why_trading_is_halted() -> None:
    from hedgebot.operator.control_client import render_status_table
    from tests.operator.test_http_api import book_view

    status = book_view().to_dict() | {
        "trading_state": "halted",
        "trading_reason": "maintenance",
        "trading_origin": "operator",
        "trading_since_ms": 1_772_409_600_000,
    }
    first = render_status_table(status).splitlines()[0]
    assert first.startswith(
        "trading state: halted (operator: maintenance, since 2026-03-02 00:00:00 UTC)"
    )


def test_help_works_on_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    """`hedgebot COMMAND --help` prints usage and exits 0 for every command `hedgebot --help`
    lists, exchange-sim included (its options come from the local exchange's parser)."""
    import argparse

    parser = cli.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert "exchange-sim" in commands.choices
    for name in commands.choices:
        try:
            status = cli.main([name, "--help"])
        except SystemExit as exc:
            status = int(exc.code or 0)
        out = capsys.readouterr().out
        assert status == 0, name
        assert out.startswith(f"usage: hedgebot {name}"), name
    assert "--port" in (cli.main(["exchange-sim", "--help"]), capsys.readouterr().out)[1]


def test_exchange_sim_help_lists_every_venue_and_its_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`hedgebot exchange-sim --help` lists the options the README shows for every local
    exchange, not only Deribit's: --venue and each venue's own (--hedge-mode, --pos-mode, …)."""
    assert cli.main(["exchange-sim", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: hedgebot exchange-sim")
    for option in ("--faults", "--venue binanceusdm", "--hedge-mode", "--venue bybit"):
        assert option in out, option
    for option in ("--venue okx", "--pos-mode", "--acct-lv"):
        assert option in out, option
    assert cli.main(["exchange-sim", "--venue", "okx", "--help"]) == 0
    okx_only = capsys.readouterr().out
    assert "--acct-lv" in okx_only
    assert "--faults" not in okx_only
