"""No configured secret ever leaves the daemon (issue 5).

`hedgebot run` runs as a subprocess, as an operator runs it, with every kind of secret configured:
venue API key and secret (from the environment, or the secret from a ``*_file``), the HTTP
control token, and an apprise alert URL carrying a token (``json://127.0.0.1:PORT/hook?token=…``,
a real receiver on 127.0.0.1). Once on the built-in simulated exchange and once live against the
local Deribit exchange through unmodified ccxt. While it runs its endpoints are scraped (/healthz,
/readyz, /status, /metrics, and the control endpoint with the right and a wrong token); then
EVERYTHING it wrote is scanned for each secret, raw and base64- or URL-encoded: stdout, stderr
(every log line), every text of every table of the SQLite journal and the raw bytes of the state
directory, the endpoint answers, the bodies and headers of the alerts received, the summary JSON,
and the text of the exception a failed authentication raises. `check-config` must print them
masked, and `hedgebot run` must warn about a config file other users can read.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import os
import secrets
import shutil
import socket
import sqlite3
import sys
import traceback
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, quote_plus

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from structlog.testing import capture_logs

from hedgebot.app import Runtime
from hedgebot.cli import main as cli_main
from hedgebot.config import load_settings
from hedgebot.model.errors import AuthenticationFailed
from hedgebot.operator.logs import MASK
from hedgebot_localvenues.deribit.book_config import SimBook, live_book
from hedgebot_localvenues.deribit.cli import build_server

ROOT = Path(__file__).resolve().parents[2]
SIM_CONFIG = ROOT / "config" / "hedgebot.toml"
LIVE_CONFIG = ROOT / "config" / "deribit-local.toml"


# --- the secrets and how they could appear -----------------------------------------------------


@dataclass(frozen=True)
class Secrets:
    """Fresh random secrets for one run (never a real venue's)."""

    api_key: str = field(default_factory=lambda: "hbkey" + secrets.token_hex(12))
    api_secret: str = field(default_factory=lambda: "hbsecret" + secrets.token_hex(12))
    control_token: str = field(default_factory=lambda: "hbctl" + secrets.token_urlsafe(18))
    alert_token: str = field(default_factory=lambda: "hbalert" + secrets.token_hex(12))
    alert_password: str = field(default_factory=lambda: "hbpass" + secrets.token_hex(12))

    def named(self) -> dict[str, str]:
        """Every secret value by what it is."""
        return {
            "api_key": self.api_key,
            "api_secret": self.api_secret,
            "control_token": self.control_token,
            "alert_token": self.alert_token,
            "alert_password": self.alert_password,
        }

    def alert_url(self, port: int) -> str:
        """An apprise JSON webhook whose URL carries secrets the way chat webhooks do: a password
        (sent as HTTP Basic auth), a token in the path and one as a query parameter (apprise
        sends ``-name=value`` as ``name=value``; a plain ``token=`` would be dropped)."""
        return (
            f"json://hedgebot:{self.alert_password}@127.0.0.1:{port}/hook/{self.alert_token}"
            f"?-token={self.alert_token}"
        )


def secret_forms(value: str) -> dict[str, str]:
    """`value` as it could appear in output: raw, URL-encoded, and base64 (standard and URL-safe)
    at each of the three byte alignments it can have inside a longer encoded text."""
    forms = {"raw": value, "url-encoded": quote(value, safe=""), "form-encoded": quote_plus(value)}
    data = value.encode()
    for offset in range(3):
        padded = b"\0" * offset + data
        first = -(-8 * offset // 6)  # the first character made of secret bits only
        last = 8 * len(padded) // 6  # one past the last such character
        for name, encode in (("base64", base64.b64encode), ("base64url", base64.urlsafe_b64encode)):
            forms[f"{name}@{offset}"] = encode(padded).decode()[first:last]
    return forms


def find_leaks(secret_values: Mapping[str, str], sources: Mapping[str, str | bytes]) -> list[str]:
    """'<secret> as <form> in <source>' for every secret form found in any source."""
    found = []
    for source, content in sources.items():
        text = content.decode("latin-1") if isinstance(content, bytes) else content
        for name, value in secret_values.items():
            for form, encoded in secret_forms(value).items():
                if encoded in text:
                    found.append(f"{name} as {form} in {source}")
    return found


# --- a real alert receiver and the daemon as a subprocess ---------------------------------------


@dataclass
class Receiver:
    """Records every request apprise posts: method, path with query, headers, body."""

    requests: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)
    port: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        self.requests.append((request.method, request.path_qs, dict(request.headers), body))
        self.arrived.set()
        return web.Response(text="ok")

    def delivered(self) -> dict[str, str]:
        """What apprise sent besides the credentials it was given (URL path, query and Basic
        auth): the other headers and the body of each request."""
        return {
            f"alert #{n} {part}": text
            for n, (_, _, headers, body) in enumerate(self.requests)
            for part, text in (
                ("headers", json.dumps({k: v for k, v in headers.items() if k != "Authorization"})),
                ("body", body),
            )
        }

    def used_credentials(self, found: Secrets) -> bool:
        """True when apprise really sent every alert secret (so they could have leaked)."""
        basic = "Basic " + base64.b64encode(f"hedgebot:{found.alert_password}".encode()).decode()
        return any(
            path == f"/hook/{found.alert_token}?token={found.alert_token}"
            and headers.get("Authorization") == basic
            for _, path, headers, _ in self.requests
        )


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    """A Receiver serving on an ephemeral 127.0.0.1 port."""
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = int(runner.addresses[0][1])
    try:
        yield receiver
    finally:
        await runner.cleanup()


def free_port() -> int:
    """A 127.0.0.1 port nothing listens on right now (for the daemon's HTTP endpoint)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class DaemonOutput:
    """Everything one `hedgebot run` wrote or answered."""

    returncode: int
    stdout: str
    stderr: str
    answers: dict[str, str]
    state_dir: Path
    summary: Path

    def log_events(self) -> list[str]:
        """The event name of every JSON log line on stderr."""
        events = []
        for line in self.stderr.splitlines():
            try:
                events.append(str(json.loads(line)["event"]))
            except (ValueError, KeyError, TypeError):
                continue
        return events

    def journal_texts(self) -> dict[str, str]:
        """Every value of every column of every table of every journal, as text."""
        texts: dict[str, str] = {}
        for path in sorted(self.state_dir.glob("*.sqlite")):
            with sqlite3.connect(path) as db:
                tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master")]
                for table in tables:
                    if not db.execute(
                        "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)
                    ).fetchone():
                        continue
                    rows = db.execute(f'SELECT * FROM "{table}"').fetchall()
                    texts[f"journal {path.name}:{table}"] = "\n".join(
                        "\t".join(str(v) for v in row) for row in rows
                    )
        return texts

    def state_bytes(self) -> dict[str, bytes]:
        """Raw bytes of every file the run left in its state directory (WAL included)."""
        return {
            f"file {p.name}": p.read_bytes()
            for p in sorted(self.state_dir.rglob("*"))
            if p.is_file()
        }

    def assert_substantial(self) -> None:
        """The run did what a scan needs to mean something: logged, served a book, hedged."""
        assert len(self.stderr.splitlines()) > 10, self.stderr
        assert '"underlyings"' in self.answers["GET /status"], self.answers
        assert "hedgebot_" in self.answers["GET /metrics"], self.answers
        orders = [text for name, text in self.journal_texts().items() if name.endswith(":orders")]
        assert any(orders), "no hedge order was journaled"
        assert self.summary.exists()

    def sources(self) -> dict[str, str | bytes]:
        """Everything to scan."""
        found: dict[str, str | bytes] = {"stdout": self.stdout, "stderr": self.stderr}
        found.update(self.answers)
        found.update(self.journal_texts())
        found.update(self.state_bytes())
        if self.summary.exists():
            found["summary json"] = self.summary.read_text()
        return found


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The test's environment without any HEDGEBOT__ setting, plus `extra`."""
    kept = {k: v for k, v in os.environ.items() if not k.upper().startswith("HEDGEBOT__")}
    return {**kept, "HEDGEBOT__LOG__FORMAT": "json", **extra}


async def _read_lines(
    stream: asyncio.StreamReader, lines: list[str], markers: Mapping[str, asyncio.Event]
) -> None:
    while raw := await stream.readline():
        line = raw.decode(errors="replace")
        lines.append(line)
        for marker, event in markers.items():
            if f'"event": "{marker}"' in line:
                event.set()


async def _scrape(base: str, token: str) -> dict[str, str]:
    """Every read endpoint, then control calls with a wrong token, the right one, and none."""
    answers: dict[str, str] = {}
    async with aiohttp.ClientSession() as http:
        for path in ("/healthz", "/readyz", "/status", "/metrics"):
            async with http.get(base + path) as response:
                answers[f"GET {path}"] = f"{response.status} {dict(response.headers)} " + (
                    await response.text()
                )
        calls = {
            "wrong token": {"Authorization": f"Bearer {token}x"},
            "no token": {},
            "right token": {"Authorization": f"Bearer {token}"},
        }
        for name, headers in calls.items():
            async with http.post(
                base + "/control/halt", headers=headers, json={"reason": "secrets scan"}
            ) as response:
                answers[f"POST /control/halt ({name})"] = (
                    f"{response.status} {dict(response.headers)} " + (await response.text())
                )
        statuses = [answer.split()[0] for name, answer in answers.items() if "control" in name]
        assert statuses == ["403", "401", "200"], answers
    return answers


async def run_daemon(
    *, config: Path, env: Mapping[str, str], args: list[str], http_port: int, token: str
) -> DaemonOutput:
    """Run `hedgebot run`, scrape its endpoints once it has started, wait for it to stop."""
    state_dir = Path(env["HEDGEBOT__STATE_DIR"])
    summary = state_dir.parent / "summary.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hedgebot",
        "run",
        "--config",
        str(config),
        "--summary-json",
        str(summary),
        *args,
        env=_environment(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out: list[str] = []
    err: list[str] = []
    started = asyncio.Event()
    readers = asyncio.gather(
        _read_lines(process.stdout, out, {}),
        _read_lines(process.stderr, err, {"daemon.started": started}),
    )
    answers: dict[str, str] = {}
    try:
        await asyncio.wait_for(started.wait(), 30)
        answers = await _scrape(f"http://127.0.0.1:{http_port}", token)
        await asyncio.wait_for(process.wait(), 60)
    finally:
        if process.returncode is None:
            process.kill()
        await readers
        await process.wait()
    assert process.returncode is not None
    return DaemonOutput(
        returncode=process.returncode,
        stdout="".join(out),
        stderr="".join(err),
        answers=answers,
        state_dir=state_dir,
        summary=summary,
    )


def _config_copy(source: Path, target: Path, mode: int) -> Path:
    shutil.copyfile(source, target)
    target.chmod(mode)
    return target


# --- the scanner itself -------------------------------------------------------------------------


def test_the_scanner_finds_a_secret_in_every_form_it_claims() -> None:
    """A secret planted raw, URL-encoded or base64-encoded (at any alignment, inside a longer
    encoded text such as an HTTP Basic header) is reported; unrelated text is not."""
    value = Secrets().api_secret
    planted: dict[str, str | bytes] = {
        "raw": f"error: {value} rejected",
        "url": "https://x/?s=" + quote(value + "/=&", safe=""),
        "basic0": base64.b64encode(f"{value}:pw".encode()).decode(),
        "basic1": base64.b64encode(f"k:{value}".encode()).decode(),
        "basic2": base64.b64encode(f"ke:{value}".encode()).decode(),
        "urlsafe": base64.urlsafe_b64encode(f"key:{value}?".encode()).decode(),
        "bytes": b"\x00\x01" + value.encode() + b"\xff",
    }
    for source, content in planted.items():
        assert find_leaks({"s": value}, {source: content}), source
    assert find_leaks({"s": value}, {"other": Secrets().api_secret + " hedgebot"}) == []


# --- the runs ------------------------------------------------------------------------------------


async def test_simulated_run_leaks_no_secret(tmp_path: Path) -> None:
    """A paper run on the built-in exchange, with every secret configured and its endpoints
    scraped and controlled, writes no secret anywhere; its config, writable by its group, is
    warned about with a `config.writable_by_others` log line."""
    found = Secrets()
    http_port = free_port()
    config = _config_copy(SIM_CONFIG, tmp_path / "hedgebot.toml", 0o664)
    async with receiving() as receiver:
        env = {
            "HEDGEBOT__STATE_DIR": str(tmp_path / "state"),
            "HEDGEBOT__SIMULATOR__SPEED": "60",
            "HEDGEBOT__HTTP__PORT": str(http_port),
            "HEDGEBOT__HTTP__CONTROL_TOKEN": found.control_token,
            "HEDGEBOT__ALERTS__URLS": json.dumps([found.alert_url(receiver.port)]),
            "HEDGEBOT__VENUES__SIM__API_KEY": found.api_key,
            "HEDGEBOT__VENUES__SIM__API_SECRET": found.api_secret,
        }
        output = await run_daemon(
            config=config,
            env=env,
            args=["--duration", "3"],
            http_port=http_port,
            token=found.control_token,
        )
        await asyncio.wait_for(receiver.arrived.wait(), 10)
    assert output.returncode == 0, output.stderr[-2000:]
    output.assert_substantial()
    events = output.log_events()
    assert "config.writable_by_others" in events
    assert "operator.halt" in events
    assert receiver.used_credentials(found), receiver.requests
    sources = {**output.sources(), **receiver.delivered()}
    assert find_leaks(found.named(), sources) == []


def _book_with_keys(found: Secrets) -> SimBook:
    """The local exchange's default live book, its main account keyed with `found`."""
    book = live_book(dt.datetime.now(dt.UTC))
    main = book.accounts["main"].model_copy(
        update={"api_key": found.api_key, "api_secret": SecretStr(found.api_secret)}
    )
    return book.model_copy(update={"accounts": {**book.accounts, "main": main}})


async def test_live_run_against_the_local_exchange_leaks_no_secret(tmp_path: Path) -> None:
    """Live trading through unmodified ccxt (key from the environment, secret from a 0600
    secret file) writes no secret anywhere, although ccxt signs every private call with them;
    neither the config nor the 0600 secret file draws a warning."""
    found = Secrets()
    http_port = free_port()
    config = _config_copy(LIVE_CONFIG, tmp_path / "live.toml", 0o600)
    secret_file = tmp_path / "api_secret"
    secret_file.write_text(found.api_secret + "\n")
    secret_file.chmod(0o600)
    server = await build_server(_book_with_keys(found), seed=11, speed=1.0, port=0)
    async with server, receiving() as receiver:
        env = {
            "HEDGEBOT__STATE_DIR": str(tmp_path / "state"),
            "HEDGEBOT__VENUES__DERIBIT__REST_URL": server.url,
            "HEDGEBOT__VENUES__DERIBIT__WS_URL": server.ws_url,
            "HEDGEBOT__VENUES__DERIBIT__API_KEY": found.api_key,
            "HEDGEBOT__VENUES__DERIBIT__API_SECRET_FILE": str(secret_file),
            "HEDGEBOT__HTTP__PORT": str(http_port),
            "HEDGEBOT__HTTP__CONTROL_TOKEN": found.control_token,
            "HEDGEBOT__ALERTS__URLS": json.dumps([found.alert_url(receiver.port)]),
        }
        output = await run_daemon(
            config=config,
            env=env,
            args=["--live", "--duration", "6"],
            http_port=http_port,
            token=found.control_token,
        )
        await asyncio.wait_for(receiver.arrived.wait(), 10)
        private_calls = [m for m in server.requests.methods() if m.startswith("private/")]
    assert output.returncode == 0, output.stderr[-2000:]
    output.assert_substantial()
    assert private_calls, "the daemon never used its keys: the scan would prove nothing"
    assert "config.writable_by_others" not in output.log_events()
    assert "secret_file.readable_by_others" not in output.log_events()
    assert receiver.used_credentials(found), receiver.requests
    sources = {**output.sources(), **receiver.delivered()}
    assert find_leaks(found.named(), sources) == []


async def test_failed_authentication_names_no_secret(tmp_path: Path) -> None:
    """A wrong API secret stops the live daemon at start-up with AuthenticationFailed; neither
    the exception (message, repr, traceback with its ccxt cause) nor any log line quotes the key
    or either secret."""
    found = Secrets()
    wrong = Secrets().api_secret
    server = await build_server(_book_with_keys(found), seed=11, speed=1.0, port=0)
    async with server:
        settings = load_settings(
            LIVE_CONFIG,
            environ={
                "HEDGEBOT__STATE_DIR": str(tmp_path / "state"),
                "HEDGEBOT__VENUES__DERIBIT__REST_URL": server.url,
                "HEDGEBOT__VENUES__DERIBIT__WS_URL": server.ws_url,
                "HEDGEBOT__VENUES__DERIBIT__API_KEY": found.api_key,
                "HEDGEBOT__VENUES__DERIBIT__API_SECRET": wrong,
                "HEDGEBOT__HTTP__ENABLED": "false",
            },
        )
        runtime = Runtime(settings, live=True, observers=[])
        with capture_logs() as logs, pytest.raises(AuthenticationFailed) as failure:
            await runtime.run(asyncio.Event())
    texts = {
        "str": str(failure.value),
        "repr": repr(failure.value),
        "traceback": "".join(traceback.format_exception(failure.value)),
        "logs": json.dumps(logs, default=str),
    }
    assert find_leaks({**found.named(), "wrong_secret": wrong}, texts) == []


def test_check_config_prints_secrets_from_the_environment_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`hedgebot check-config` shows that each secret is set, as a mask, never its value."""
    found = Secrets()
    monkeypatch.setenv("HEDGEBOT__VENUES__SIM__API_KEY", found.api_key)
    monkeypatch.setenv("HEDGEBOT__VENUES__SIM__API_SECRET", found.api_secret)
    monkeypatch.setenv("HEDGEBOT__HTTP__CONTROL_TOKEN", found.control_token)
    monkeypatch.setenv("HEDGEBOT__ALERTS__URLS", json.dumps([found.alert_url(9)]))
    config = _config_copy(SIM_CONFIG, tmp_path / "hedgebot.toml", 0o600)
    assert cli_main(["check-config", str(config)]) == 0
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed["venues"]["sim"]["api_key"] == MASK
    assert printed["venues"]["sim"]["api_secret"] == MASK
    assert printed["http"]["control_token"] == MASK
    assert printed["alerts"]["urls"] == [MASK]
    assert find_leaks(found.named(), {"stdout": captured.out, "stderr": captured.err}) == []
