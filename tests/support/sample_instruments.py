"""Instruments and constants shared by the risk, headroom, shock and report tests."""

from __future__ import annotations

from pathlib import Path

from hedgebot.model.instruments import Instrument, Kind, Settlement, deribit_expiry_ms

CHAIN = (
    Path(__file__).parents[1]
    / "data"
    / "deribit"
    / "options_chain_2021-02-11"
    / "btc_option_data.csv"
)
"""Real recorded Deribit BTC option chain (see tests/data/README.md)."""
NOW = deribit_expiry_ms("1JAN24")
S = 60_000.0
PERP = Instrument(
    venue="deribit",
    symbol="BTC-PERPETUAL",
    underlying="BTC",
    kind=Kind.PERPETUAL,
    settlement=Settlement.INVERSE,
    contract_size=10.0,
)
FUTURE = Instrument(
    venue="deribit",
    symbol="BTC-29MAR24",
    underlying="BTC",
    kind=Kind.FUTURE,
    settlement=Settlement.INVERSE,
    contract_size=10.0,
    expiry_ms=deribit_expiry_ms("29MAR24"),
)
LINEAR_PERP = Instrument(
    venue="binanceusdm", symbol="BTC/USDT:USDT", underlying="BTC", kind=Kind.PERPETUAL
)
