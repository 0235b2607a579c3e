"""Configuration failures a new user meets, each one line and status 78: misspelled or phantom
environment overrides, values that do not parse, a directory or non-UTF-8 file as config, alert
URLs in the TOML, an unknown symbol in the simulated book."""

from __future__ import annotations

from pathlib import Path

import pytest

from hedgebot.cli import EX_CONFIG, main

DEFAULT = Path(__file__).resolve().parents[1] / "config" / "hedgebot.toml"


def _line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("hedgebot: ")]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("HEDGEBOT__HTTP_CONTROL_TOKEN", "abcdefghijkl", "no setting 'http_control_token'"),
        ("HEDGEBOT__MODDE", "live", "no setting 'modde'"),
        ("HEDGEBOT__GUARDS__MAX_ORDERS_PER_MINUTES", "5", "no setting 'max_orders_per_minutes'"),
        ("HEDGEBOT__VENUES__DERIBT__API_KEY", "abcdefghijkl", "no venue named 'deribt'"),
        ("HEDGEBOT__ALERTS__URLS", "json://example/one\njson://example/two", "does not parse"),
    ],
)
def test_a_bad_environment_override_exits_78_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["check-config", str(DEFAULT)]) == EX_CONFIG
    line = _line(capsys)
    assert expected in line
    assert "abcdefghijkl" not in line


def test_valid_overrides_still_apply(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEDGEBOT__HEDGES__BTC__TARGET", "0.5")
    monkeypatch.setenv("HEDGEBOT__ALERTS__URLS", '["json://127.0.0.1:1/x"]')
    monkeypatch.setenv("HEDGEBOT__HEDGES__ETH__BAND", '{"kind": "fixed", "half_width": 1.5}')
    assert main(["check-config", str(DEFAULT)]) == 0
    out = capsys.readouterr().out
    assert '"target": 0.5' in out
    assert '"half_width": 1.5' in out


def test_unreadable_config_files_exit_78(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-config", str(tmp_path)]) == EX_CONFIG
    assert "is a directory" in _line(capsys)
    latin = tmp_path / "latin1.toml"
    latin.write_bytes('mode = "paper" # café'.encode("latin-1"))
    assert main(["check-config", str(latin)]) == EX_CONFIG
    assert "not UTF-8" in _line(capsys)


def test_alert_urls_in_the_toml_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hedgebot.toml"
    path.write_text(DEFAULT.read_text() + '\n[alerts]\nurls = ["json://127.0.0.1:1/x"]\n')
    path.chmod(0o600)
    assert main(["check-config", str(path)]) == EX_CONFIG
    assert "alerts.urls: secrets are never read from the config file" in _line(capsys)


def test_an_unknown_symbol_in_the_simulated_book_exits_78(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = DEFAULT.read_text()
    assert 'symbol = "BTC-27MAR26-60000-C"' in text
    path = tmp_path / "hedgebot.toml"
    path.write_text(text.replace('symbol = "BTC-27MAR26-60000-C"', 'symbol = "BTC-FOO"', 1))
    path.chmod(0o600)
    monkeypatch.setenv("HEDGEBOT__STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("HEDGEBOT__HTTP__ENABLED", "false")
    assert main(["run", "--config", str(path), "--duration", "1"]) == EX_CONFIG
    line = _line(capsys)
    assert "unknown symbol 'BTC-FOO'" in line
    assert line.startswith("hedgebot: config error: venues.sim")


def test_credentials_in_endpoint_urls_are_masked_in_check_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HEDGEBOT__VENUES__SIM__REST_URL", "https://trader:hunter2pass@example/api")
    assert main(["check-config", str(DEFAULT)]) == 0
    out = capsys.readouterr().out
    assert "hunter2pass" not in out
    assert "trader" not in out
    assert '"rest_url": "https://**********@example/api"' in out


def test_secret_files_readable_by_others_are_warned_about(tmp_path: Path) -> None:
    from hedgebot.config import secret_file_warning, url_credentials

    secret = tmp_path / "api_secret"
    secret.write_text("s")
    secret.chmod(0o600)
    assert secret_file_warning(secret) is None
    secret.chmod(0o640)
    assert "chmod 600" in (secret_file_warning(secret) or "")
    found = [s.get_secret_value() for s in url_credentials("wss://u1:p4ssw0rd@h:9/ws")]
    assert found == ["u1", "p4ssw0rd", "u1:p4ssw0rd"]
