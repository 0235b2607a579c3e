"""Config validation and the command line's exit codes: what an operator sees when a config
is wrong, and that quick commands stay quick."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hedgebot.app import band_rule
from hedgebot.cli import EX_CONFIG, main
from hedgebot.config import load_settings
from hedgebot.core.policy import WhalleyWilmottBand

DEFAULT = Path(__file__).resolve().parents[1] / "config" / "hedgebot.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hedgebot.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def _default_with(old: str, new: str) -> str:
    text = DEFAULT.read_text()
    assert old in text, old
    return text.replace(old, new, 1)


def test_default_config_is_valid_and_printed(capsys: pytest.CaptureFixture[str]) -> None:
    """check-config prints the default config as JSON and exits 0."""
    assert main(["check-config", str(DEFAULT)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["mode"] == "paper"
    assert set(printed["hedges"]) == {"BTC", "ETH"}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("loop_interval_s = 1.0", "loop_interval_s = 1.0\nbogus = 1", "bogus: unknown key"),
        ("max_order = 5.0", 'max_order = "five"', "hedges.BTC.max_order"),
        ("min_order = 0.01", "min_order = 9.0", "min_order (9.0) must be less than max_order"),
        ("minimum = 1.0, maximum = 5.0", "minimum = 6.0, maximum = 5.0", "minimum (6.0) must not"),
        ('account = "main"', 'account = "nope"', "no account named 'nope'"),
        ("[venues.sim]", '[venues.sim]\napi_key = "abc"', "venues.sim.api_key: secrets are never"),
        ("half_width = 0.25", "half_width = -1", "hedges.BTC.band.half_width"),
        (
            'band = { kind = "fixed", half_width = 0.25 }',
            'band = { kind = "whalley_wilmott", relative_risk_aversion = 100, '
            "risk_aversion = 0.001, minimum = 0.01, maximum = 5 }",
            "hedges.BTC.band: give relative_risk_aversion (per USD of the options' delta "
            "notional) or risk_aversion (per USD), not both",
        ),
    ],
)
def test_invalid_config_exits_78_with_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, expected: str
) -> None:
    """Each kind of mistake exits 78 with a single line that names the key and the problem."""
    path = _write(tmp_path, _default_with(old, new))
    assert main(["check-config", str(path)]) == EX_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert expected in err[0]


WW = 'band = {{ kind = "whalley_wilmott", {keys}minimum = 0.01, maximum = 5 }}'


@pytest.mark.parametrize(
    ("keys", "relative", "per_usd", "cost"),
    [
        ("", 100.0, None, 6e-4),  # the documented defaults
        ("relative_risk_aversion = 10, cost_bps = 3, ", 10.0, None, 3e-4),
        ("risk_aversion = 0.0003, cost_bps = 6, ", None, 3e-4, 6e-4),  # a config from before A
    ],
)
def test_whalley_wilmott_band_keys(
    tmp_path: Path, keys: str, relative: float | None, per_usd: float | None, cost: float
) -> None:
    """relative_risk_aversion and cost_bps have defaults; risk_aversion (per USD) still works."""
    text = _default_with('band = { kind = "fixed", half_width = 0.25 }', WW.format(keys=keys))
    settings = load_settings(_write(tmp_path, text))
    band = band_rule(settings.hedges["BTC"].band)
    assert isinstance(band, WhalleyWilmottBand)
    assert band.relative_risk_aversion == relative
    assert band.risk_aversion == per_usd
    assert band.cost == pytest.approx(cost)


def test_missing_file_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A config path that does not exist is a config error, for check-config and run alike."""
    missing = tmp_path / "absent.toml"
    assert main(["check-config", str(missing)]) == EX_CONFIG
    assert main(["run", "--config", str(missing)]) == EX_CONFIG
    assert "config file not found" in capsys.readouterr().err


def test_environment_overrides_the_file() -> None:
    """HEDGEBOT__SECTION__KEY overrides one key and leaves the rest of the section alone."""
    settings = load_settings(DEFAULT, environ={"HEDGEBOT__HEDGES__BTC__TARGET": "0.75"})
    assert settings.hedges["BTC"].target == 0.75
    assert settings.hedges["BTC"].instrument == "BTC-PERPETUAL"


def test_secrets_from_environment_are_masked_when_printed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API secret set in the environment never appears in check-config output."""
    monkeypatch.setenv("HEDGEBOT__VENUES__SIM__API_SECRET", "s3cr3t-value-xyz")
    assert main(["check-config", str(DEFAULT)]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t-value-xyz" not in out
    assert json.loads(out)["venues"]["sim"]["api_secret"] == "**********"


def test_a_config_others_can_change_is_warned_about_and_a_readable_one_is_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The config holds no secret (they are refused), so readable is fine — the documented
    systemd install (DynamicUser) needs a 0644 file; writable by others is warned about."""
    path = _write(tmp_path, DEFAULT.read_text())
    path.chmod(0o644)
    assert main(["check-config", str(path)]) == 0
    assert "warning" not in capsys.readouterr().err
    path.chmod(0o664)
    assert main(["check-config", str(path)]) == 0
    assert "writable by other users" in capsys.readouterr().err


def test_help_and_version_do_not_import_ccxt() -> None:
    """--help and --version return without importing ccxt (it costs ~0.7 s and 110 MB)."""
    code = (
        "import sys\nfrom hedgebot.cli import main\n"
        "for argv in (['--version'], ['--help'], ['check-config', sys.argv[1]]):\n"
        "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
        "print('CCXT' if 'ccxt' in sys.modules else 'NO-CCXT')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(DEFAULT)], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().endswith("NO-CCXT")
    assert "hedgebot 0.1.0" in result.stdout


def test_risk_report_of_the_default_book(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hedgebot risk` prints positions with their delta method, greeks, headroom and grids."""
    monkeypatch.setenv("HEDGEBOT__STATE_DIR", str(tmp_path))
    assert main(["risk", "--config", str(DEFAULT)]) == 0
    out = capsys.readouterr().out
    for section in (
        "POSITIONS",
        "GREEKS PER UNDERLYING",
        "MARGIN HEADROOM",
        "STRESS (-15% spot, +25 vol pt at 30d",
        "SHOCK GRID BTC",
    ):
        assert section in out
    assert "book: SIMULATED: the seed book of the config" in out
    bands = out.split("HEDGE BANDS", 1)[1].split("\n\n", 1)[0].splitlines()
    btc = next(line for line in bands if line.startswith("BTC"))
    assert "FixedBand" in btc
    assert "0.2500" in btc  # config/hedgebot.toml: BTC half_width 0.25
    assert "15,000.00" in btc  # at the simulator's 60,000
    assert list(tmp_path.iterdir()) == [], "the report must not open a journal"
    assert "premium-adjusted Black-76 delta (coin-settled)" in out
    assert "BTC-27MAR26-60000-C" in out
