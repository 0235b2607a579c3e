"""OKX v5 answer rows of the local OKX exchange: what each REST answer and websocket push
carries, in OKX's field sets and units.

Owns `AccountConfig` (an account's ``acctLv`` and ``posMode``), `OrderMeta` (trade mode, order
type and tag of an order) and `Wire`, which renders the shared `Ledger`'s state as OKX rows:
tickers, account configuration, balance (account-level ``adjEq``/``imr``/``mmr`` in the
multi-currency and portfolio modes, per currency in the single-currency mode), positions (``pos``
in contracts, ``mgnMode``, ``imr`` for cross or ``margin`` for isolated), orders (also with the
fill fields of the ``orders`` channel) and fills. Field sets follow OKX's documentation and the
recorded answers in tests/data/okx (checked by tests/localvenues/test_okx.py). It must not know
HTTP or ccxt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hedgebot_localvenues.binance_usdm.ledger import LEVERAGE, Ledger, Order, Trade
from hedgebot_localvenues.binance_usdm.wire import num
from hedgebot_localvenues.okx.markets import Swap

STATES = {
    "NEW": "live",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "EXPIRED": "canceled",
}
"""The ledger's order status -> OKX's ``state``."""


@dataclass(slots=True)
class AccountConfig:
    """OKX's account configuration (``GET /api/v5/account/config``) of one account.

    ``acct_lv``: 1 spot mode (no swaps), 2 spot and futures (single-currency margin),
    3 multi-currency margin, 4 portfolio margin. ``pos_mode``: ``net_mode`` or
    ``long_short_mode``."""

    uid: str
    acct_lv: str = "2"
    pos_mode: str = "net_mode"


@dataclass(slots=True)
class OrderMeta:
    """What OKX reports of an order beyond the ledger: trade mode, order type, tag."""

    td_mode: str
    ord_type: str
    tag: str


class Wire:
    """OKX rows of the ledger's state (reads only)."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        swaps: Mapping[str, Swap],
        configs: Mapping[str, AccountConfig],
        margin_modes: Mapping[tuple[str, str], str],
        meta: Mapping[int, OrderMeta],
    ) -> None:
        self.ledger = ledger
        self.swaps = swaps
        self.configs = configs
        self.margin_modes = margin_modes
        self.meta = meta

    def ticker_row(self, inst_id: str, now: int) -> dict[str, Any] | None:
        touch = self.ledger.touches.get(inst_id)
        swap = self.swaps.get(inst_id)
        if touch is None or swap is None:
            return None
        places = len(swap.tick_sz.partition(".")[2])
        mark = self.ledger.marks[inst_id]
        last = f"{mark:.{places}f}"
        return {
            "instType": "SWAP",
            "instId": inst_id,
            "last": last,
            "lastSz": "1",
            "askPx": f"{touch.ask:.{places}f}",
            "askSz": "500",
            "bidPx": f"{touch.bid:.{places}f}",
            "bidSz": "500",
            "open24h": last,
            "high24h": last,
            "low24h": last,
            "volCcy24h": "0",
            "vol24h": "0",
            "sodUtc0": last,
            "sodUtc8": last,
            "ts": str(now),
        }

    def config_row(self, config: AccountConfig) -> dict[str, Any]:
        """The ``account/config`` row of an account."""
        return {
            "acctLv": config.acct_lv,
            "acctStpMode": "cancel_maker",
            "autoLoan": False,
            "ctIsoMode": "automatic",
            "enableSpotBorrow": False,
            "greeksType": "PA",
            "feeType": "0",
            "ip": "",
            "type": "0",
            "kycLv": "2",
            "label": "local",
            "level": "Lv1",
            "levelTmp": "",
            "liquidationGear": "-1",
            "mainUid": config.uid,
            "mgnIsoMode": "automatic",
            "opAuth": "0",
            "perm": "read_only,trade",
            "posMode": config.pos_mode,
            "roleType": "0",
            "spotBorrowAutoRepay": False,
            "spotOffsetType": "",
            "spotRoleType": "0",
            "spotTraderInsts": [],
            "traderInsts": [],
            "uid": config.uid,
            "settleCcy": "USDT",
            "settleCcyList": ["USD", "USDC", "USDG"],
        }

    def balance_row(self, account: str, now_ms: int) -> dict[str, Any]:
        acct = self.ledger.accounts[account]
        config = self.configs[account]
        upnl = self.ledger.unrealized(acct)
        initial = self.ledger.initial_margin(acct)
        maint = self.ledger.maint_margin(acct)
        equity = acct.wallet + upnl
        now = str(now_ms)
        ratio = num(equity / maint) if maint else ""
        detail = {
            "accAvgPx": "",
            "availBal": num(acct.wallet - initial),
            "availEq": num(equity - initial),
            "borrowFroz": "",
            "cashBal": num(acct.wallet),
            "ccy": "USDT",
            "clSpotInUseAmt": "",
            "collateralEnabled": False,
            "crossLiab": "",
            "disEq": num(equity),
            "eq": num(equity),
            "eqUsd": num(equity),
            "fixedBal": "0",
            "frozenBal": num(initial),
            "imr": num(initial),
            "interest": "",
            "isoEq": "0",
            "isoLiab": "",
            "isoUpl": "0",
            "liab": "",
            "maxLoan": "",
            "mgnRatio": ratio,
            "mmr": num(maint),
            "notionalLever": num(initial * LEVERAGE / equity if equity else 0.0),
            "ordFrozen": "0",
            "rewardBal": "0",
            "smtSyncEq": "0",
            "spotInUseAmt": "",
            "spotIsoBal": "0",
            "stgyEq": "0",
            "twap": "0",
            "uTime": now,
            "upl": num(upnl),
            "uplLiab": "",
        }
        multi = config.acct_lv in ("3", "4")
        return {
            "adjEq": num(equity) if multi else "",
            "borrowFroz": "",
            "details": [detail],
            "imr": num(initial) if multi else "",
            "isoEq": "0",
            "mgnRatio": ratio if multi else "",
            "mmr": num(maint) if multi else "",
            "notionalUsd": num(initial * LEVERAGE) if multi else "",
            "ordFroz": "",
            "totalEq": num(equity),
            "uTime": now,
            "upl": num(upnl) if multi else "",
        }

    def position_rows(
        self, account: str, p: Mapping[str, Any], *, keep_flat: bool
    ) -> list[dict[str, Any]]:
        if p.get("instType") not in (None, "", "ANY", "SWAP"):
            return []
        wanted = set(str(p["instId"]).split(",")) if p.get("instId") else None
        acct = self.ledger.accounts[account]
        rows = []
        for (inst_id, _), leg in sorted(acct.positions.items()):
            if (leg.amount == 0 and not keep_flat) or (wanted and inst_id not in wanted):
                continue
            swap = self.swaps[inst_id]
            mode = self.margin_modes.get((account, inst_id), "cross")
            mark = self.ledger.marks.get(inst_id, leg.entry)
            notional = abs(leg.amount) * mark
            initial = notional / LEVERAGE
            maint = notional * self.ledger.contracts[inst_id].maint_rate
            upl = leg.amount * (mark - leg.entry)
            rows.append(
                {
                    "adl": "1",
                    "availPos": "",
                    "avgPx": num(leg.entry) if leg.amount else "",
                    "bePx": num(leg.entry) if leg.amount else "",
                    "cTime": str(leg.update_ms),
                    "ccy": "USDT",
                    "deltaBS": "",
                    "deltaPA": "",
                    "fee": "0",
                    "fundingFee": "0",
                    "gammaBS": "",
                    "gammaPA": "",
                    "idxPx": num(mark),
                    "imr": num(initial) if mode == "cross" else "",
                    "instId": inst_id,
                    "instType": "SWAP",
                    "interest": "",
                    "last": num(mark),
                    "lever": str(LEVERAGE),
                    "liab": "",
                    "liabCcy": "",
                    "liqPenalty": "0",
                    "liqPx": "",
                    "margin": num(initial) if mode == "isolated" else "",
                    "markPx": num(mark),
                    "mgnMode": mode,
                    "mgnRatio": num((initial + upl) / maint) if maint else "",
                    "mmr": num(maint),
                    "notionalUsd": num(notional),
                    "optVal": "",
                    "pendingCloseOrdLiabVal": "",
                    "pnl": "0",
                    "pos": swap.to_contracts(leg.amount),
                    "posCcy": "",
                    "posId": str(abs(hash((account, inst_id))) % 10**18),
                    "posSide": "net",
                    "quoteBal": "",
                    "realizedPnl": "0",
                    "thetaBS": "",
                    "thetaPA": "",
                    "tradeId": "",
                    "uTime": str(leg.update_ms),
                    "upl": num(upl),
                    "uplLastPx": num(upl),
                    "uplRatio": num(upl / initial) if initial else "0",
                    "uplRatioLastPx": num(upl / initial) if initial else "0",
                    "usdPx": "",
                    "vegaBS": "",
                    "vegaPA": "",
                }
            )
        return rows

    def order_row(
        self, o: Order, *, trade: Trade | None = None, push: bool = False
    ) -> dict[str, Any]:
        swap = self.swaps[o.symbol]
        meta = self.meta.get(o.order_id, OrderMeta("cross", "limit", ""))
        row: dict[str, Any] = {
            "accFillSz": swap.to_contracts(o.executed),
            "algoClOrdId": "",
            "algoId": "",
            "attachAlgoClOrdId": "",
            "attachAlgoOrds": [],
            "avgPx": num(o.avg_price) if o.executed else "",
            "cTime": str(o.time_ms),
            "cancelSource": "",
            "cancelSourceReason": "",
            "category": "normal",
            "ccy": "",
            "clOrdId": o.client_id,
            "fee": num(-trade.commission) if trade is not None else "0",
            "feeCcy": "USDT",
            "fillPx": num(trade.price) if trade is not None else "",
            "fillSz": swap.to_contracts(trade.qty) if trade is not None else "0",
            "fillTime": str(trade.time_ms) if trade is not None else "",
            "instId": o.symbol,
            "instType": "SWAP",
            "isTpLimit": "false",
            "lever": str(LEVERAGE),
            "linkedAlgoOrd": {"algoId": ""},
            "ordId": str(o.order_id),
            "ordType": meta.ord_type,
            "pnl": num(trade.realized_pnl) if trade is not None else "0",
            "posSide": "net",
            "px": num(o.price),
            "pxType": "",
            "pxUsd": "",
            "pxVol": "",
            "quickMgnType": "",
            "rebate": "0",
            "rebateCcy": "USDT",
            "reduceOnly": "true" if o.reduce_only else "false",
            "side": o.side.lower(),
            "slOrdPx": "",
            "slTriggerPx": "",
            "slTriggerPxType": "",
            "source": "",
            "state": STATES[o.status],
            "stpId": "",
            "stpMode": "cancel_maker",
            "sz": swap.to_contracts(o.quantity),
            "tag": meta.tag,
            "tdMode": meta.td_mode,
            "tgtCcy": "",
            "tpOrdPx": "",
            "tpTriggerPx": "",
            "tpTriggerPxType": "",
            "tradeId": str(trade.trade_id) if trade is not None else "",
            "uTime": str(o.update_ms),
        }
        if push:
            row |= {
                "amendResult": "",
                "code": "0",
                "execType": ("M" if trade.maker else "T") if trade is not None else "",
                "fillFee": num(-trade.commission) if trade is not None else "0",
                "fillFeeCcy": "USDT" if trade is not None else "",
                "fillNotionalUsd": num(trade.qty * trade.price) if trade is not None else "",
                "fillPnl": num(trade.realized_pnl) if trade is not None else "0",
                "msg": "",
                "notionalUsd": num(o.quantity * o.price),
                "reqId": "",
            }
        return row

    def fill_row(self, t: Trade) -> dict[str, Any]:
        swap = self.swaps[t.order.symbol]
        return {
            "instType": "SWAP",
            "instId": t.order.symbol,
            "tradeId": str(t.trade_id),
            "ordId": str(t.order.order_id),
            "clOrdId": t.order.client_id,
            "billId": str(t.trade_id + 10**12),
            "subType": "1" if t.order.side == "BUY" else "2",
            "tag": "",
            "fillPx": num(t.price),
            "fillSz": swap.to_contracts(t.qty),
            "fillIdxPx": num(self.ledger.marks.get(t.order.symbol, t.price)),
            "fillPnl": num(t.realized_pnl),
            "fillPxVol": "",
            "fillPxUsd": "",
            "fillMarkVol": "",
            "fillFwdPx": "",
            "fillMarkPx": num(self.ledger.marks.get(t.order.symbol, t.price)),
            "side": t.order.side.lower(),
            "posSide": "net",
            "execType": "M" if t.maker else "T",
            "feeCcy": "USDT",
            "fee": num(-t.commission),
            "ts": str(t.time_ms),
            "fillTime": str(t.time_ms),
        }


def currencies() -> list[dict[str, Any]]:
    """The ``asset/currencies`` rows (BTC, ETH, USDT)."""
    return [
        {
            "ccy": ccy,
            "chain": f"{ccy}-{chain}",
            "name": name,
            "canDep": True,
            "canWd": True,
            "canInternal": True,
            "mainNet": True,
            "minDep": "0.00000001",
            "minWd": "0.0001",
            "maxWd": "1000",
            "wdTickSz": "8",
            "minFee": "0.0001",
            "maxFee": "0.0002",
            "logoLink": "",
        }
        for ccy, chain, name in (
            ("BTC", "Bitcoin", "Bitcoin"),
            ("ETH", "ERC20", "Ethereum"),
            ("USDT", "ERC20", "Tether"),
        )
    ]
