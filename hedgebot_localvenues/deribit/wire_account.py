"""Deribit's JSON for private data: orders, user trades, positions and account summaries.

Owns the pure encoders from `OrderRecord`, `TradeRecord` and computed position / account
figures to Deribit API v2 field sets. Units follow Deribit: position ``size`` is USD face
(signed) for inverse futures and perpetuals and coin otherwise; ``size_currency`` is always coin
(signed); ``delta`` is the coin delta (premium-adjusted for coin-settled options).

It must not read state: every input is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hedgebot.model.instruments import Instrument, Kind
from hedgebot_localvenues.deribit.registry import OrderRecord, TradeRecord
from hedgebot_localvenues.deribit.wire_market import kind_of

JsonDict = dict[str, Any]
USER_ID = 100_001


def order_json(record: OrderRecord, *, average_price: float, commission: float) -> JsonDict:
    """One order as ``private/buy``, ``get_order_state`` and ``user.orders.*`` return it."""
    contract = record.instrument.contract_size
    data: JsonDict = {
        "web": False,
        "time_in_force": record.time_in_force,
        "replaced": record.replaced,
        "reduce_only": record.reduce_only,
        "profit_loss": 0.0,
        "price": "market_price" if record.order_type == "market" else record.price,
        "post_only": record.post_only,
        "reject_post_only": record.reject_post_only,
        "order_type": record.order_type,
        "order_state": record.state,
        "order_id": record.order_id,
        "max_show": record.amount,
        "last_update_timestamp": record.updated_ms,
        "label": record.label,
        "is_liquidation": False,
        "instrument_name": record.instrument.symbol,
        "filled_amount": record.filled_amount,
        "direction": record.side.value,
        "creation_timestamp": record.created_ms,
        "commission": commission,
        "average_price": average_price,
        "api": True,
        "amount": record.amount,
        "contracts": round(record.amount / contract, 10) if contract > 0 else record.amount,
        "mmp": False,
        "risk_reducing": False,
        "user_id": USER_ID,
    }
    if record.state == "cancelled":
        data["cancel_reason"] = record.cancel_reason or "user_request"
    return data


def trade_json(trade: TradeRecord, record: OrderRecord) -> JsonDict:
    """One user trade as ``get_user_trades_*``, ``private/buy`` and ``user.trades.*`` return it."""
    fill = trade.fill
    data: JsonDict = {
        "trade_seq": trade.trade_seq,
        "trade_id": fill.trade_id,
        "timestamp": fill.timestamp_ms,
        "tick_direction": 0,
        "state": record.state,
        "self_trade": False,
        "reduce_only": record.reduce_only,
        "profit_loss": 0.0,
        "price": fill.price,
        "post_only": record.post_only,
        "order_type": record.order_type,
        "order_id": record.order_id,
        "matching_id": None,
        "mark_price": trade.mark_price,
        "liquidity": trade.liquidity,
        "label": record.label,
        "instrument_name": fill.key.symbol,
        "index_price": trade.index_price,
        "fee_currency": fill.fee_currency,
        "fee": fill.fee,
        "direction": fill.side.value,
        "amount": fill.amount,
        "contracts": round(fill.amount / record.instrument.contract_size, 10),
        "api": True,
        "user_id": USER_ID,
    }
    if trade.iv is not None:
        data["iv"] = trade.iv
    if trade.underlying_price is not None:
        data["underlying_price"] = trade.underlying_price
    return data


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionFigures:
    """One position valued at the current marks."""

    instrument: Instrument
    size: float
    average_price: float
    mark_price: float
    index_price: float
    delta: float
    initial_margin: float = 0.0
    maintenance_margin: float = 0.0

    @property
    def size_currency(self) -> float:
        """Signed size in coin: USD face / mark for inverse futures and perpetuals."""
        if self.instrument.amount_is_usd:
            return self.size / self.mark_price if self.mark_price > 0 else 0.0
        return self.size

    @property
    def floating_profit_loss(self) -> float:
        """Unrealised P&L at the mark, in the settlement currency."""
        if self.size == 0 or self.average_price <= 0 or self.mark_price <= 0:
            return 0.0
        if self.instrument.amount_is_usd:
            return self.size * (1.0 / self.average_price - 1.0 / self.mark_price)
        return self.size * (self.mark_price - self.average_price)


def position_json(figures: PositionFigures) -> JsonDict:
    """One entry of ``private/get_positions`` (and ``user.changes.*`` positions)."""
    size = figures.size
    pnl = figures.floating_profit_loss
    data: JsonDict = {
        "average_price": figures.average_price,
        "delta": figures.delta,
        "direction": "buy" if size > 0 else "sell" if size < 0 else "zero",
        "estimated_liquidation_price": None,
        "floating_profit_loss": pnl,
        "index_price": figures.index_price,
        "initial_margin": figures.initial_margin,
        "instrument_name": figures.instrument.symbol,
        "interest_value": 0.0,
        "kind": kind_of(figures.instrument),
        "leverage": 50 if figures.instrument.kind is not Kind.OPTION else 1,
        "maintenance_margin": figures.maintenance_margin,
        "mark_price": figures.mark_price,
        "open_orders_margin": 0.0,
        "realized_profit_loss": 0.0,
        "settlement_price": figures.mark_price,
        "size": size,
        "size_currency": figures.size_currency,
        "total_profit_loss": pnl,
    }
    if figures.instrument.kind is Kind.OPTION:
        data["average_price_usd"] = figures.average_price * figures.index_price
        data["floating_profit_loss_usd"] = pnl * figures.index_price
    return data


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountFigures:
    """Money and risk of one account in one currency."""

    currency: str
    balance: float
    equity: float
    initial_margin: float
    maintenance_margin: float
    futures_delta: float
    options_delta: float
    options_gamma: float = 0.0
    options_vega: float = 0.0
    options_theta: float = 0.0
    options_value: float = 0.0
    futures_pl: float = 0.0
    options_pl: float = 0.0
    index_name: str = ""

    @property
    def delta_total(self) -> float:
        """Deribit's DeltaTotal: futures plus options delta, excluding the balance itself."""
        return self.futures_delta + self.options_delta


def summary_json(figures: AccountFigures, *, account_id: int) -> JsonDict:
    """One currency of ``private/get_account_summary`` (and ``user.portfolio.*`` data)."""
    available = figures.equity - figures.initial_margin
    index_map = {figures.index_name: figures.delta_total} if figures.index_name else {}
    return {
        "currency": figures.currency,
        "balance": figures.balance,
        "equity": figures.equity,
        "margin_balance": figures.equity,
        "available_funds": available,
        "available_withdrawal_funds": max(0.0, min(available, figures.balance)),
        "initial_margin": figures.initial_margin,
        "maintenance_margin": figures.maintenance_margin,
        "projected_initial_margin": figures.initial_margin,
        "projected_maintenance_margin": figures.maintenance_margin,
        "delta_total": figures.delta_total,
        "projected_delta_total": figures.delta_total,
        "delta_total_map": index_map,
        "options_delta": figures.options_delta,
        "options_gamma": figures.options_gamma,
        "options_vega": figures.options_vega,
        "options_theta": figures.options_theta,
        "options_value": figures.options_value,
        "options_gamma_map": {},
        "options_vega_map": {},
        "options_theta_map": {},
        "options_pl": figures.options_pl,
        "options_session_upl": figures.options_pl,
        "options_session_rpl": 0.0,
        "futures_pl": figures.futures_pl,
        "futures_session_upl": figures.futures_pl,
        "futures_session_rpl": 0.0,
        "session_upl": figures.futures_pl + figures.options_pl,
        "session_rpl": 0.0,
        "total_pl": figures.futures_pl + figures.options_pl,
        "fee_balance": 0.0,
        "spot_reserve": 0.0,
        "locked_balance": 0.0,
        "additional_reserve": 0.0,
        "estimated_liquidation_ratio": (
            figures.maintenance_margin / figures.equity if figures.equity > 0 else 0.0
        ),
        "estimated_liquidation_ratio_map": {},
        "margin_model": "segregated_sm",
        "portfolio_margining_enabled": False,
        "cross_collateral_enabled": False,
        "limits": {
            "limits_per_currency": False,
            "non_matching_engine": {"burst": 100, "rate": 20},
            "matching_engine": {"trading": {"total": {"burst": 20, "rate": 5}}},
        },
        "id": account_id,
        "type": "main",
    }
