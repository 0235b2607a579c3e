"""Packaged defaults: an installed hedgebot runs from any directory on its shipped simulated book,
and `hedgebot init` writes starter configs that pass check-config.

The wheel itself is built by the slow test (`.venv/bin/python -m pytest -m slow
tests/operator/test_packaging.py`): it needs the package registry for the build backend."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from hedgebot import cli
from hedgebot.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = ROOT / "hedgebot" / "defaults"


def _hedgebot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEBOT")}
    env["HEDGEBOT__HTTP__ENABLED"] = "false"
    return subprocess.run(
        [sys.executable, "-m", "hedgebot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_package_data_globs_name_files_that_exist() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for package, globs in pyproject["tool"]["setuptools"]["package-data"].items():
        for pattern in globs:
            assert list((ROOT / package).glob(pattern)), f"{package}/{pattern} matches nothing"


def test_the_packaged_default_is_the_repository_default() -> None:
    packaged = (DEFAULTS / "hedgebot.toml").read_bytes()
    assert packaged == (ROOT / "config" / "hedgebot.toml").read_bytes()


def test_run_works_in_an_empty_directory(tmp_path: Path) -> None:
    """No config/ here: the packaged simulated book is used, state lands in this directory."""
    done = _hedgebot("run", "--duration", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "config file not found" not in done.stderr
    assert "readable by other users" not in done.stderr  # the shipped book holds no secrets
    assert list((tmp_path / "state").glob("journal-paper.sqlite"))


@pytest.mark.parametrize("kind", sorted(cli.STARTERS))
def test_init_writes_a_valid_owner_only_starter_and_never_overwrites(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / f"{kind}.toml"
    assert cli.main(["init", "--kind", kind, str(target)]) == 0
    assert target.stat().st_mode & 0o777 == 0o600
    text = target.read_text()
    assert text.startswith("# hedgebot")
    settings = load_settings(target, environ={})
    assert settings.hedges
    assert settings.mode == ("live" if kind.startswith("live") else "paper")
    target.write_text("# mine\n")
    assert cli.main(["init", "--kind", kind, str(target)]) == cli.EX_CANTCREAT
    assert target.read_text() == "# mine\n"
    assert "not overwriting" in capsys.readouterr().err


@pytest.mark.slow
def test_the_wheel_ships_the_defaults(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("hedgebot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for starter in cli.STARTERS.values():
        assert f"hedgebot/defaults/{starter}" in names
