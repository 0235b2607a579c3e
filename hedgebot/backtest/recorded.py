"""Recorded market data as backtest paths: one-minute candles and option-chain implied vols.

Owns two readers of published formats (plain or gzipped CSV):

* candles with a header ``timestamp,open,high,low,close,volume`` and UTC timestamps such as
  ``2021-12-31 23:01:00.000000`` (the FTX BTC-PERP export in tests/data/price_history/);
  `candle_paths` cuts the closes into consecutive windows, one path each, so a month of real
  data gives a distribution of hedged P&L (of days, by default) and not a single number;
* Deribit ``public/ticker`` rows flattened to CSV (``instrument_name``, ``mark_iv``,
  ``underlying_price``, ``timestamp``): `chain_atm_vol` reads the at-the-money implied vol of the
  expiry nearest to a horizon, the vol a replay revalues options at.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
from pathlib import Path

import numpy as np

from hedgebot.backtest.market import MarketPaths
from hedgebot.model.instruments import deribit_expiry_ms


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def read_candles(path: Path) -> tuple[list[int], list[float]]:
    """(timestamps in epoch ms, closes) of a candle CSV, in file order."""
    times: list[int] = []
    closes: list[float] = []
    with _open_text(path) as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"timestamp", "close"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: expected a CSV header with timestamp and close columns")
        for row in reader:
            moment = dt.datetime.fromisoformat(row["timestamp"]).replace(tzinfo=dt.UTC)
            times.append(int(moment.timestamp() * 1000))
            closes.append(float(row["close"]))
    if len(closes) < 2:
        raise ValueError(f"{path}: fewer than two candles")
    return times, closes


def candle_paths(
    times: list[int],
    closes: list[float],
    *,
    step_minutes: int,
    window_days: float,
    implied_vol: float,
    spot: float,
    source: str,
) -> MarketPaths:
    """Consecutive windows of `window_days` of closes every `step_minutes` minutes, one path
    each, every window rescaled to start at `spot` (the recorded returns on the book's price
    level). Missing bars carry the last close; a short last window is dropped."""
    minute = 60_000
    start = times[0]
    grid = np.full((times[-1] - start) // minute + 1, np.nan)
    for ms, close in zip(times, closes, strict=True):
        grid[(ms - start) // minute] = close
    filled = np.maximum.accumulate(np.where(np.isnan(grid), 0, np.arange(len(grid))))
    series = grid[filled][::step_minutes]
    steps = max(1, min(len(series) - 1, round(window_days * 1440 / step_minutes)))
    windows = (len(series) - 1) // steps
    rows = np.stack([series[w * steps : (w + 1) * steps + 1] for w in range(windows)])
    return MarketPaths(
        start_ms=start,
        step_ms=step_minutes * minute,
        spot=spot * rows / rows[:, :1],
        implied_vol=np.full(rows.shape, implied_vol),
        source=f"{source}, {windows} windows of {steps * step_minutes / 1440:g} days",
    )


def chain_atm_vol(path: Path, *, horizon_days: float) -> float:
    """ATM mark IV (a fraction) of the expiry nearest `horizon_days` after the snapshot: the
    mean mark IV, calls and puts, at the strike nearest that expiry's mean forward."""
    rows: dict[str, list[tuple[float, float, float]]] = {}  # expiry -> (strike, fwd, iv)
    days: dict[str, float] = {}
    with _open_text(path) as handle:
        for row in csv.DictReader(handle):
            parts = row.get("instrument_name", "").split("-")
            if len(parts) != 4:
                continue
            days[parts[1]] = (deribit_expiry_ms(parts[1]) - int(row["timestamp"])) / 86_400_000
            rows.setdefault(parts[1], []).append(
                (float(parts[2]), float(row["underlying_price"]), float(row["mark_iv"]) / 100.0)
            )
    if not rows:
        raise ValueError(f"{path}: no option rows with instrument_name, mark_iv, underlying_price")
    expiry = min(days, key=lambda code: (abs(days[code] - horizon_days), code))
    chosen = rows[expiry]
    forward = sum(r[1] for r in chosen) / len(chosen)
    strike = min({r[0] for r in chosen}, key=lambda k: abs(k - forward))
    return float(np.mean([r[2] for r in chosen if r[0] == strike]))
