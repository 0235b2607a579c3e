"""Binance USDⓈ-M wire encoders of the local exchange: orders, trades, positions, the account.

Owns the JSON shapes of the documented answers (USDⓈ-M REST "New Order", "Query Order",
"Account Trade List", "Position Information V3", "Account Information V3", "Futures Account
Balance V3", "Notional and Leverage Brackets") and of the user-data event ``ORDER_TRADE_UPDATE``.
Numbers travel as decimal strings, as Binance sends them. It must not decide anything.
"""

from __future__ import annotations

from typing import Any

from hedgebot_localvenues.binance_usdm.ledger import LEVERAGE, Account, Ledger, Order, Trade


def num(value: float, places: int = 8) -> str:
    """A decimal string without exponent or trailing zeros beyond one decimal."""
    text = f"{value:.{places}f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def order(o: Order) -> dict[str, Any]:
    """An order as New Order / Query Order / Open Orders answer it."""
    return {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_id,
        "price": num(o.price),
        "avgPrice": num(o.avg_price),
        "origQty": num(o.quantity),
        "executedQty": num(o.executed),
        "cumQty": num(o.executed),
        "cumQuote": num(o.cum_quote),
        "timeInForce": o.time_in_force,
        "type": "LIMIT",
        "reduceOnly": o.reduce_only,
        "closePosition": False,
        "side": o.side,
        "positionSide": o.position_side,
        "stopPrice": "0",
        "workingType": "CONTRACT_PRICE",
        "priceProtect": False,
        "origType": "LIMIT",
        "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "goodTillDate": 0,
        "time": o.time_ms,
        "updateTime": o.update_ms,
    }


def trade(t: Trade) -> dict[str, Any]:
    """One row of the Account Trade List."""
    return {
        "buyer": t.order.side == "BUY",
        "commission": num(t.commission),
        "commissionAsset": "USDT",
        "id": t.trade_id,
        "maker": t.maker,
        "orderId": t.order.order_id,
        "price": num(t.price),
        "qty": num(t.qty),
        "quoteQty": num(t.qty * t.price),
        "realizedPnl": num(t.realized_pnl),
        "side": t.order.side,
        "positionSide": t.order.position_side,
        "symbol": t.order.symbol,
        "time": t.time_ms,
    }


def position_risk(ledger: Ledger, account: Account) -> list[dict[str, Any]]:
    """Position Information V3: every leg of every listed symbol with a position."""
    rows = []
    for (symbol, side), leg in sorted(account.positions.items()):
        if leg.amount == 0:
            continue
        mark = ledger.marks.get(symbol, leg.entry)
        notional = leg.amount * mark
        initial = abs(notional) / LEVERAGE
        rows.append(
            {
                "symbol": symbol,
                "positionSide": side,
                "positionAmt": num(leg.amount),
                "entryPrice": num(leg.entry),
                "breakEvenPrice": num(leg.entry),
                "markPrice": num(mark),
                "unRealizedProfit": num(leg.amount * (mark - leg.entry)),
                "liquidationPrice": "0",
                "isolatedMargin": "0",
                "notional": num(notional),
                "marginAsset": "USDT",
                "isolatedWallet": "0",
                "initialMargin": num(initial),
                "maintMargin": num(abs(notional) * ledger.contracts[symbol].maint_rate),
                "positionInitialMargin": num(initial),
                "openOrderInitialMargin": "0",
                "adl": 0,
                "bidNotional": "0",
                "askNotional": "0",
                "updateTime": leg.update_ms,
            }
        )
    return rows


def account_info(ledger: Ledger, account: Account, *, now_ms: int) -> dict[str, Any]:
    """Account Information V3 (also served as V2): account totals, USDT asset, positions."""
    unrealized = ledger.unrealized(account)
    initial = ledger.initial_margin(account)
    maint = ledger.maint_margin(account)
    margin_balance = account.wallet + unrealized
    available = margin_balance - initial
    asset = {
        "asset": "USDT",
        "walletBalance": num(account.wallet),
        "unrealizedProfit": num(unrealized),
        "marginBalance": num(margin_balance),
        "maintMargin": num(maint),
        "initialMargin": num(initial),
        "positionInitialMargin": num(initial),
        "openOrderInitialMargin": "0",
        "crossWalletBalance": num(account.wallet),
        "crossUnPnl": num(unrealized),
        "availableBalance": num(available),
        "maxWithdrawAmount": num(max(available, 0.0)),
        "marginAvailable": True,
        "updateTime": now_ms,
    }
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
        "totalInitialMargin": num(initial),
        "totalMaintMargin": num(maint),
        "totalWalletBalance": num(account.wallet),
        "totalUnrealizedProfit": num(unrealized),
        "totalMarginBalance": num(margin_balance),
        "totalPositionInitialMargin": num(initial),
        "totalOpenOrderInitialMargin": "0",
        "totalCrossWalletBalance": num(account.wallet),
        "totalCrossUnPnl": num(unrealized),
        "availableBalance": num(available),
        "maxWithdrawAmount": num(max(available, 0.0)),
        "updateTime": now_ms,
        "assets": [asset],
        "positions": [
            {
                "symbol": row["symbol"],
                "positionSide": row["positionSide"],
                "positionAmt": row["positionAmt"],
                "unrealizedProfit": row["unRealizedProfit"],
                "isolatedMargin": "0",
                "notional": row["notional"],
                "isolatedWallet": "0",
                "initialMargin": row["initialMargin"],
                "maintMargin": row["maintMargin"],
                "updateTime": row["updateTime"],
            }
            for row in position_risk(ledger, account)
        ],
    }


def leverage_brackets(ledger: Ledger) -> list[dict[str, Any]]:
    """Notional and Leverage Brackets: one bracket per symbol (the first of Binance's)."""
    return [
        {
            "symbol": symbol,
            "notionalCoef": 1.0,
            "brackets": [
                {
                    "bracket": 1,
                    "initialLeverage": 125,
                    "notionalCap": 50000,
                    "notionalFloor": 0,
                    "maintMarginRatio": contract.maint_rate,
                    "cum": 0.0,
                }
            ],
        }
        for symbol, contract in ledger.contracts.items()
    ]


def order_trade_update(o: Order, t: Trade | None, *, now_ms: int) -> dict[str, Any]:
    """The user-data ``ORDER_TRADE_UPDATE`` event of an order change (or of one of its fills)."""
    execution = "TRADE" if t is not None else ("NEW" if o.status == "NEW" else o.status)
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now_ms,
        "T": now_ms,
        "o": {
            "s": o.symbol,
            "c": o.client_id,
            "S": o.side,
            "o": "LIMIT",
            "f": o.time_in_force,
            "q": num(o.quantity),
            "p": num(o.price),
            "ap": num(o.avg_price),
            "sp": "0",
            "x": execution,
            "X": o.status,
            "i": o.order_id,
            "l": num(t.qty if t is not None else 0.0),
            "z": num(o.executed),
            "L": num(t.price if t is not None else 0.0),
            "N": "USDT",
            "n": num(t.commission if t is not None else 0.0),
            "T": t.time_ms if t is not None else o.update_ms,
            "t": t.trade_id if t is not None else 0,
            "b": "0",
            "a": "0",
            "m": bool(t.maker) if t is not None else False,
            "R": o.reduce_only,
            "wt": "CONTRACT_PRICE",
            "ot": "LIMIT",
            "ps": o.position_side,
            "cp": False,
            "rp": num(t.realized_pnl if t is not None else 0.0),
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": "EXPIRE_MAKER",
            "pm": "NONE",
            "gtd": 0,
        },
    }
