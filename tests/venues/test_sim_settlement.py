"""The paper exchange books a linear contract's P&L and margin in its quote currency, also for
venue ids without separators (Binance/Bybit ``BTCUSDT``, OKX ``BTC-USDT-SWAP``), so USDT
collateral backs a USDT-margined hedge in paper mode."""

from __future__ import annotations

import dataclasses

import pytest

from hedgebot.venues.sim.catalog import settlement_currency
from tests.support.sample_instruments import LINEAR_PERP, PERP


@pytest.mark.parametrize(
    ("symbol", "currency"),
    [
        ("BTCUSDT", "USDT"),
        ("ETHUSDC", "USDC"),
        ("BTC-USDT-SWAP", "USDT"),
        ("BTC/USDT:USDT", "USDT"),
        ("BTC_USDC-PERPETUAL", "USDC"),
    ],
)
def test_linear_contracts_settle_in_their_quote(symbol: str, currency: str) -> None:
    assert settlement_currency(dataclasses.replace(LINEAR_PERP, symbol=symbol)) == currency


def test_inverse_contracts_settle_in_coin() -> None:
    assert settlement_currency(PERP) == "BTC"
