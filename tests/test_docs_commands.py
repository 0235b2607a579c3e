"""Every shell command that README.md and docs/*.md show runs, as the docs show it.

The test reads each ```sh block of README.md and docs/*.md, joins continuation lines (a trailing
backslash) and runs every command, in the order of the document, with bash, in a temporary
workspace: a copy of the repository's ``config/`` and ``deploy/`` folders and a ``.venv`` link to
the interpreter running the tests (so ``.venv/bin/hedgebot`` and a bare ``hedgebot`` both work)
and a link to the recorded data in ``tests/data/`` (the backtest replays it).
A command passes when it exits 0 within `TIMEOUT_S` and prints no Python traceback.

Adding a command to the docs needs nothing here when it finishes by itself within a few
minutes. Otherwise a one-line rule in one of the tables below handles it. For each command, in
this order: `NOT_RUN` (skipped, with the reason), a shell built-in, `INSTEAD`, then `REWRITES`,
then `SERVERS` (else it is run to completion):

* `REWRITES`: applied to every command and to the copied config files. ``--duration N``
  becomes ``--duration 5``; the fixed ports the docs show (8765 for the local exchange, 9102 for
  the daemon's endpoint) become free ports picked per document, and every command also gets
  ``HEDGEBOT__HTTP__PORT`` set to that port (the daemon and the CLI both read it), so parallel
  test runs on one machine never collide. A ``hedgebot run`` that finishes by itself gets a port
  of its own, so it can run beside a daemon the document started. A document showing another
  fixed port (a second local exchange, say) adds a line mapping it to a new ``{name_port}``
  placeholder, and a free port for it in ``Workspace.__init__``.
* `SERVERS`: long-running commands (the local exchange, ``hedgebot run`` without
  ``--duration``). Each is started, waited for until its output matches the ready pattern, kept
  running for the rest of its document (later commands talk to it), then stopped with SIGTERM:
  it must exit 0.
* `INSTEAD`: a command run in another form, with the reason (e.g. the install one-liner, whose
  install half is what scripts/test.sh itself does before this suite runs).
* `NOT_RUN`: commands that cannot run here, with the reason: host administration (sudo,
  systemd, docker, kubectl). Every repository path such a command names must still exist;
  tests/operator/test_deploy.py checks the unit, compose and Kubernetes files themselves.
* Shell built-ins with an effect on the following commands are honoured: ``export NAME=VALUE``
  (the value evaluated by bash) sets the variable for the rest of the document, ``cd DIR``
  changes the working directory until the end of its block (each block starts at the root).

A rule that no longer matches any command in the docs fails `test_every_rule_is_used`, so the
tables stay as small as the docs need.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
TIMEOUT_S = 240.0
"""Per command, generous: a loaded 2-core machine runs several suites at once."""
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 90.0
SHORT_DURATION_S = 5
COPIED_FOLDERS = ("config", "deploy")

REWRITES: tuple[tuple[str, str], ...] = (
    (r"--duration\s+\d+(\.\d+)?", f"--duration {SHORT_DURATION_S}"),
    (r"\b8765\b", "{exchange_port}"),
    (r"\b9102\b", "{http_port}"),
)
"""(pattern, replacement) applied to every command; {exchange_port} and {http_port} are the
free ports of the document's run."""

SERVERS: tuple[tuple[str, str], ...] = (
    (r"\bhedgebot exchange-sim\b(?!.*--help)", r"-sim listening"),
    (r"\bhedgebot run\b(?!.*--duration)", r'"event": "daemon\.started"'),
)
"""(command pattern, ready pattern in its output): started, kept for the document, stopped."""

INSTEAD: dict[str, tuple[str, str]] = {
    "python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e . && "
    ".venv/bin/hedgebot run --duration 60": (
        ".venv/bin/hedgebot run --duration 60",
        "the venv and install half is exactly what scripts/test.sh does before this suite",
    ),
}
"""Command as the docs show it -> (the command run instead, why)."""

NOT_RUN: tuple[tuple[str, str], ...] = (
    (r"^bash scripts/test\.sh\b", "it runs this suite itself (CI runs it)"),
    (r"(^|[|;&]\s*)sudo\b", "host administration: needs root"),
    (r"^(systemctl|journalctl)\b", "needs a systemd host"),
    (r"^docker\b", "needs docker"),
    (r"^kubectl\b", "needs a Kubernetes cluster"),
)
"""(command pattern, why it cannot run here)."""

_REPO_PATH = re.compile(r"^(\.\./)?(config|deploy|docs|scripts|tests|benchmarks|hedgebot)/")
_TRACEBACK = "Traceback (most recent call last)"


@dataclass(frozen=True)
class DocCommand:
    """One logical command of a ```sh block."""

    doc: str
    line: int
    text: str
    block: int
    """Index of its ```sh block in the document: a `cd` lasts until the block ends."""

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"


def extract(path: Path) -> list[DocCommand]:
    """The commands of the ```sh blocks of one Markdown file, continuations joined, comments
    and blank lines dropped."""
    commands: list[DocCommand] = []
    in_block = False
    pending: list[str] = []
    start = block = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            in_block = stripped == "```sh" if not in_block else False
            block += in_block
            continue
        if not in_block or (not pending and (not stripped or stripped.startswith("#"))):
            continue
        if not pending:
            start = number
        pending.append(stripped.removesuffix("\\").strip())
        if not stripped.endswith("\\"):
            text = " ".join(part for part in pending if part)
            commands.append(DocCommand(path.relative_to(ROOT).as_posix(), start, text, block))
            pending = []
    return commands


ALL_COMMANDS = [command for doc in DOCS for command in extract(doc)]


def _first_match(rules: tuple[tuple[str, str], ...], text: str) -> str | None:
    for pattern, value in rules:
        if re.search(pattern, text):
            return value
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A long-running command of a document and everything it printed."""

    command: DocCommand
    process: subprocess.Popen[str]
    ready: re.Pattern[str]
    output: list[str] = field(default_factory=list)
    is_ready: threading.Event = field(default_factory=threading.Event)
    ended: bool = False
    """Its output closed before it was ready (it exited)."""
    reader: threading.Thread | None = None

    def start_reading(self) -> None:
        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                if self.ready.search(line):
                    self.is_ready.set()
            self.ended = not self.is_ready.is_set()
            self.is_ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()

    def text(self) -> str:
        return "".join(self.output)[-4000:]


class Workspace:
    """A temporary directory the commands of one document run in, with its ports and env."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cwd = root
        self.ports = {"exchange_port": _free_port(), "http_port": _free_port()}
        for folder in COPIED_FOLDERS:
            shutil.copytree(ROOT / folder, root / folder)
        for config in (root / "config").glob("*.toml"):
            config.write_text(self.rewrite(config.read_text(encoding="utf-8")), encoding="utf-8")
            config.chmod(0o600)
        (root / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
        (root / "tests").mkdir()
        (root / "tests" / "data").symlink_to(ROOT / "tests" / "data", target_is_directory=True)
        (root / "constraints.txt").symlink_to(ROOT / "constraints.txt")
        bin_dir = str(Path(sys.executable).parent)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEBOT")}
        self.env["PATH"] = bin_dir + os.pathsep + self.env.get("PATH", "")
        self.env["HEDGEBOT__HTTP__PORT"] = str(self.ports["http_port"])
        self.env.pop("PYTHONPATH", None)
        self.servers: list[Server] = []

    def rewrite(self, text: str) -> str:
        for pattern, replacement in REWRITES:
            text = re.sub(pattern, replacement.format(**self.ports), text)
        return text

    def builtin(self, command: DocCommand) -> bool:
        """Run `export NAME=VALUE` or `cd DIR` for the rest of the document; False otherwise."""
        words = shlex.split(command.text)
        if words[:1] == ["cd"] and len(words) == 2:
            self.cwd = (self.cwd / words[1]).resolve()
            assert self.cwd.is_dir(), f"{command.where}: no directory {words[1]}"
            return True
        match = re.fullmatch(r"export ([A-Za-z_][A-Za-z0-9_]*)=(.*)", command.text)
        if match is None:
            return False
        name, value = match.groups()
        done = subprocess.run(
            ["bash", "-c", f'{name}={value}; printf %s "${name}"'],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, f"{command.where}: {command.text}\n{done.stderr}"
        self.env[name] = done.stdout
        return True

    def run(self, command: DocCommand, text: str) -> None:
        env = self.env
        if re.search(r"\bhedgebot run\b", text):  # a one-shot daemon beside a running one
            env = {**env, "HEDGEBOT__HTTP__PORT": str(_free_port())}
        try:
            done = subprocess.run(
                ["bash", "-c", text],
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"{command.where}: `{text}` still running after {TIMEOUT_S:.0f} s")
        output = (done.stdout + done.stderr)[-4000:]
        assert done.returncode == 0, (
            f"{command.where}: `{text}` exited {done.returncode}:\n{output}"
        )
        assert _TRACEBACK not in output, f"{command.where}: `{text}` printed a traceback:\n{output}"

    def start(self, command: DocCommand, text: str, ready: str) -> None:
        process = subprocess.Popen(
            ["bash", "-c", text],  # one simple command: bash execs it, so the pid is its own
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        server = Server(command, process, re.compile(ready))
        self.servers.append(server)
        server.start_reading()
        ok = server.is_ready.wait(READY_TIMEOUT_S) and not server.ended
        assert ok, f"{command.where}: `{text}` did not get ready ({ready!r}):\n{server.text()}"

    def stop_servers(self) -> None:
        """SIGTERM every server, newest first; each must exit 0 without a traceback."""
        failures: list[str] = []
        for server in reversed(self.servers):
            process = server.process
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                status = process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                failures.append(f"{server.command.where}: did not stop on SIGTERM")
                continue
            if server.reader is not None:
                server.reader.join(timeout=STOP_TIMEOUT_S)
            if status != 0 or _TRACEBACK in server.text():
                failures.append(
                    f"{server.command.where}: `{server.command.text}` exited {status}:\n"
                    f"{server.text()}"
                )
        self.servers.clear()
        assert not failures, "\n".join(failures)


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    space = Workspace(tmp_path)
    try:
        yield space
    finally:
        for server in space.servers:  # a failed test: stop without judging
            if server.process.poll() is None:
                os.killpg(server.process.pid, signal.SIGKILL)
                server.process.wait()


def _check_paths(command: DocCommand, cwd: Path) -> None:
    """Every repository path a command names exists (relative to where it runs)."""
    for word in shlex.split(command.text, comments=True):
        if _REPO_PATH.match(word):
            relative = (cwd / word).resolve().relative_to(ROOT.resolve())
            assert (ROOT / relative).exists(), f"{command.where}: {word} does not exist"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_command_in_the_docs_runs(doc: Path, workspace: Workspace) -> None:
    """Each command of the document, in order, against servers the document itself starts."""
    commands = [c for c in ALL_COMMANDS if c.doc == doc.relative_to(ROOT).as_posix()]
    block = 0
    for command in commands:
        if command.block != block:
            block, workspace.cwd = command.block, workspace.root
        inside = workspace.cwd.resolve().relative_to(workspace.root.resolve())
        _check_paths(command, ROOT / inside)
        if _first_match(NOT_RUN, command.text) is not None:
            continue
        if workspace.builtin(command):
            continue
        text = INSTEAD.get(command.text, (command.text, ""))[0]
        text = workspace.rewrite(text)
        ready = _first_match(SERVERS, text)
        if ready is not None:
            workspace.start(command, text, ready)
        else:
            workspace.run(command, text)
    workspace.stop_servers()


def test_the_docs_show_the_commands_this_test_is_about() -> None:
    """The extraction finds the README's first command, the local exchange and the live run:
    a broken parser cannot pass by finding nothing."""
    texts = [c.text for c in ALL_COMMANDS]
    assert any(t.startswith("python3 -m venv .venv && ") for t in texts)
    assert ".venv/bin/hedgebot exchange-sim --port 8765" in texts
    live = [t for t in texts if "run --config config/deribit-local.toml --live" in t]
    assert live, "the live example is missing"
    assert "\\" not in live[0], "continuation lines are joined"


def test_every_rule_is_used() -> None:
    """Each table entry matches a command the docs show today (no stale rules)."""
    texts = [c.text for c in ALL_COMMANDS]
    for shown in INSTEAD:
        assert shown in texts, f"INSTEAD entry no longer in the docs: {shown}"
    for pattern, _ in (*NOT_RUN, *SERVERS):
        assert any(re.search(pattern, t) for t in texts), f"unused rule: {pattern}"
