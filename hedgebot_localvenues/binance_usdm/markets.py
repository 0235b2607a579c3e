"""The contracts the local Binance USDⓈ-M exchange lists, and their ``exchangeInfo`` encoding.

Owns `Contract` (one linear USDT-margined perpetual: tick size, lot step, minimum quantity,
minimum notional, maintenance-margin rate) and `exchange_info`, the ``GET /fapi/v1/exchangeInfo``
answer in the field set of Binance's documented response (the field set is checked against a
recorded answer in tests/localvenues/test_binance_usdm_wire.py). One contract is one coin:
USDⓈ-M quantities are in the base asset, so ccxt reports ``contractSize`` 1.

The filter values are Binance's published ones for BTCUSDT and ETHUSDT at the time of writing
(tick 0.10 / 0.01, step 0.001, minimum notional 100 / 20 USDT); they are facts of this local
exchange, not read from the real venue. It must not import ccxt.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Contract:
    """One USDT-margined perpetual."""

    symbol: str
    base: str
    tick_size: str
    step_size: str
    min_qty: str
    max_qty: str
    min_notional: str
    maint_rate: float
    """Maintenance margin per unit of notional (the first leverage bracket)."""
    price_precision: int
    quantity_precision: int


CONTRACTS: dict[str, Contract] = {
    "BTCUSDT": Contract(
        symbol="BTCUSDT",
        base="BTC",
        tick_size="0.10",
        step_size="0.001",
        min_qty="0.001",
        max_qty="1000",
        min_notional="100",
        maint_rate=0.004,
        price_precision=2,
        quantity_precision=3,
    ),
    "ETHUSDT": Contract(
        symbol="ETHUSDT",
        base="ETH",
        tick_size="0.01",
        step_size="0.001",
        min_qty="0.001",
        max_qty="10000",
        min_notional="20",
        maint_rate=0.005,
        price_precision=2,
        quantity_precision=3,
    ),
}

ONBOARD_MS = 1569398400000
PERPETUAL_DELIVERY_MS = 4133404800000
"""Binance's delivery date of a perpetual (2100-12-25)."""


def exchange_info(contracts: dict[str, Contract], *, server_time_ms: int) -> dict[str, object]:
    """The ``exchangeInfo`` answer for `contracts`."""
    return {
        "timezone": "UTC",
        "serverTime": server_time_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {
                "rateLimitType": "REQUEST_WEIGHT",
                "interval": "MINUTE",
                "intervalNum": 1,
                "limit": 2400,
            },
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [
            {"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"},
        ],
        "symbols": [_symbol(c) for c in contracts.values()],
    }


def _symbol(c: Contract) -> dict[str, object]:
    return {
        "symbol": c.symbol,
        "pair": c.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS,
        "onboardDate": ONBOARD_MS,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": c.base,
        "quoteAsset": "USDT",
        "marginAsset": "USDT",
        "pricePrecision": c.price_precision,
        "quantityPrecision": c.quantity_precision,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": c.tick_size,
                "maxPrice": "4529764",
                "tickSize": c.tick_size,
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": c.min_qty,
                "maxQty": c.max_qty,
                "stepSize": c.step_size,
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": c.min_qty,
                "maxQty": c.max_qty,
                "stepSize": c.step_size,
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": c.min_notional},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }
