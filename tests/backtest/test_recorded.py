"""Recorded data as backtest paths: the FTX BTC-PERP month and a Deribit chain snapshot."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pytest

from hedgebot.backtest.recorded import candle_paths, chain_atm_vol, read_candles

DATA = Path(__file__).parents[1] / "data"
FTX = DATA / "price_history" / "ftx_btc-perp_1m_2021-12-31_2022-02-01.csv.gz"
CHAIN = DATA / "deribit" / "options_chain_2021-02-11" / "btc_option_data.csv"


def test_the_ftx_month_reads_whole_with_its_sell_off() -> None:
    times, closes = read_candles(FTX)
    assert len(closes) == 45_031
    assert times[0] == 1_640_991_660_000  # 2021-12-31 23:01 UTC
    assert all(b > a for a, b in itertools.pairwise(times))
    day = 1440
    worst = min(closes[i + day] / closes[i] - 1 for i in range(len(closes) - day))
    assert worst == pytest.approx(-0.136, abs=0.005)  # the sell-off: worst 24 h −13.6 %


def test_windows_keep_the_recorded_returns_on_the_book_price_level() -> None:
    times, closes = read_candles(FTX)
    market = candle_paths(
        times,
        closes,
        step_minutes=1,
        window_days=1.0,
        implied_vol=0.7,
        spot=60_000.0,
        source="ftx",
    )
    assert market.paths == 31
    assert market.steps == 1440
    assert np.all(market.spot[:, 0] == 60_000.0)
    # the second window is the second day of closes, rescaled
    minute = dict(zip(times, closes, strict=True))
    first = minute[times[0] + 1440 * 60_000]
    later = minute[times[0] + 1500 * 60_000]
    assert market.spot[1, 60] == pytest.approx(60_000.0 * later / first)
    assert np.all(market.implied_vol == 0.7)


def test_gaps_carry_the_last_close(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("timestamp,open,high,low,close,volume\n")
        handle.write("2022-01-01 00:00:00.000000,1,1,1,100.0,1\n")
        handle.write("2022-01-01 00:03:00.000000,1,1,1,110.0,1\n")
    times, closes = read_candles(path)
    market = candle_paths(
        times, closes, step_minutes=1, window_days=1.0, implied_vol=0.5, spot=100.0, source="x"
    )
    np.testing.assert_allclose(market.spot[0], [100.0, 100.0, 100.0, 110.0])


def test_a_file_without_closes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,price\n1,2\n")
    with pytest.raises(ValueError, match="timestamp and close"):
        read_candles(path)


def test_chain_vol_is_the_atm_mark_iv_of_the_nearest_expiry() -> None:
    """2021-02-11 snapshot: the expiry nearest 30 days is 5MAR21 (22 days); the strike nearest
    its forward (about 48,900) is 49,000, printed at mark IV 100.00 in every row; the expiry
    nearest 60 days is 26MAR21 (43 days), whose strike nearest its forward (about 49,700) in
    this file is 48,000, printed between 171.47 % and 172.32 %."""
    assert chain_atm_vol(CHAIN, horizon_days=30.0) == pytest.approx(1.0)
    assert chain_atm_vol(CHAIN, horizon_days=60.0) == pytest.approx(1.7176, abs=0.0001)
