"""The USDT-margined swaps the local OKX v5 exchange lists, in OKX's units.

Owns `Swap` (one linear USDT swap as OKX's ``public/instruments`` describes it: ``ctVal`` coin
per contract, ``ctMult``, ``lotSz`` and ``minSz`` in contracts, ``tickSz``), `SWAPS`,
`instrument_row` (the ``public/instruments`` row, in the field set of a recorded OKX answer,
tests/data/okx/instruments_swap.json) and the bridge to the shared `Ledger`, which keeps
quantities in coin: one contract of BTC-USDT-SWAP is 0.01 BTC, so an order of ``sz`` 12.5 is
0.125 BTC in the ledger. The filter values are OKX's published ones for BTC-USDT-SWAP and
ETH-USDT-SWAP at the time of writing (the recorded answer); they are facts of this local
exchange, not read from the real venue. It must not import ccxt.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hedgebot_localvenues.binance_usdm.markets import Contract


@dataclass(frozen=True, slots=True)
class Swap:
    """One linear USDT swap (perpetual) in OKX's terms."""

    inst_id: str
    base: str
    ct_val: str
    lot_sz: str
    min_sz: str
    tick_sz: str
    max_lmt_sz: str
    inst_id_code: int
    list_time: str

    def to_coin(self, contracts: str | float) -> float:
        """Contracts -> coin (exact in decimal)."""
        return float(Decimal(str(contracts)) * Decimal(self.ct_val))

    def to_contracts(self, coin: float) -> str:
        """Coin -> contracts, as OKX writes them (no exponent, trailing zeros trimmed)."""
        value = (Decimal(repr(coin)) / Decimal(self.ct_val)).quantize(Decimal("0.00000001"))
        text = format(value.normalize(), "f")
        return "0" if text in ("-0", "") else text

    def contract(self) -> Contract:
        """The shared ledger's contract: the same rules in coin."""
        step = Decimal(self.lot_sz) * Decimal(self.ct_val)
        return Contract(
            symbol=self.inst_id,
            base=self.base,
            tick_size=self.tick_sz,
            step_size=format(step.normalize(), "f"),
            min_qty=format((Decimal(self.min_sz) * Decimal(self.ct_val)).normalize(), "f"),
            max_qty=format((Decimal(self.max_lmt_sz) * Decimal(self.ct_val)).normalize(), "f"),
            min_notional="0",
            maint_rate=0.004,
            price_precision=len(self.tick_sz.partition(".")[2]),
            quantity_precision=8,
        )


SWAPS: dict[str, Swap] = {
    "BTC-USDT-SWAP": Swap(
        inst_id="BTC-USDT-SWAP",
        base="BTC",
        ct_val="0.01",
        lot_sz="0.01",
        min_sz="0.01",
        tick_sz="0.1",
        max_lmt_sz="100000000",
        inst_id_code=10459,
        list_time="1573557408000",
    ),
    "ETH-USDT-SWAP": Swap(
        inst_id="ETH-USDT-SWAP",
        base="ETH",
        ct_val="0.1",
        lot_sz="0.01",
        min_sz="0.01",
        tick_sz="0.01",
        max_lmt_sz="100000000",
        inst_id_code=10461,
        list_time="1573557408000",
    ),
}
"""OKX's BTC-USDT-SWAP and ETH-USDT-SWAP (recorded ``public/instruments`` answer)."""


def instrument_row(s: Swap) -> dict[str, Any]:
    """The ``GET /api/v5/public/instruments?instType=SWAP`` row of `s`."""
    return {
        "alias": "",
        "auctionEndTime": "",
        "baseCcy": "",
        "category": "1",
        "contTdSwTime": "",
        "ctMult": "1",
        "ctType": "linear",
        "ctVal": s.ct_val,
        "ctValCcy": s.base,
        "expTime": "",
        "futureSettlement": False,
        "instFamily": f"{s.base}-USDT",
        "instId": s.inst_id,
        "instIdCode": s.inst_id_code,
        "instType": "SWAP",
        "lever": "100",
        "listTime": s.list_time,
        "lotSz": s.lot_sz,
        "maxIcebergSz": "100000000.0000000000000000",
        "maxLmtAmt": "20000000",
        "maxLmtSz": s.max_lmt_sz,
        "maxMktAmt": "",
        "maxMktSz": "12000",
        "maxPlatOILmt": "",
        "maxStopSz": "12000",
        "maxTriggerSz": "100000000.0000000000000000",
        "maxTwapSz": "100000000.0000000000000000",
        "minSz": s.min_sz,
        "openType": "",
        "optType": "",
        "posLmtAmt": "",
        "posLmtPct": "",
        "preMktSwTime": "",
        "quoteCcy": "",
        "ruleType": "normal",
        "settleCcy": "USDT",
        "state": "live",
        "stk": "",
        "tickSz": s.tick_sz,
        "tradeQuoteCcyList": [],
        "uly": f"{s.base}-USDT",
    }
