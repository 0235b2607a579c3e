"""Fan-out of subscription notifications to the websocket sessions of the local exchange.

Owns `SubscriptionHub`: the set of open `WsSession`s; market notifications on each clock tick
(``ticker`` and ``quote`` when they change, ``book`` as a snapshot then ``change`` diffs with
``new``/``change``/``delete`` actions, ``deribit_price_index``); and, as the `VenueState`'s
account listener, ``user.orders``, ``user.trades``, ``user.portfolio``, ``user.changes`` and the
public ``trades`` of our own fills, in Deribit's notification format
``{"jsonrpc": "2.0", "method": "subscription", "params": {"channel", "data"}}``.
It is also the `WebsocketFleet` the fault controller drops or floods.

It must not compute prices or balances itself (that is `VenueState`'s job).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiohttp import WSCloseCode

from hedgebot.model.account import AccountSnapshot
from hedgebot_localvenues.deribit.channels import Channel
from hedgebot_localvenues.deribit.faults import FaultController
from hedgebot_localvenues.deribit.registry import OrderRecord, TradeRecord
from hedgebot_localvenues.deribit.rpc import notification
from hedgebot_localvenues.deribit.session import WsSession
from hedgebot_localvenues.deribit.state import VenueState
from hedgebot_localvenues.deribit.trading import encode_order
from hedgebot_localvenues.deribit.wire_account import position_json, summary_json, trade_json
from hedgebot_localvenues.deribit.wire_market import index_notification_json

_MARKET = ("ticker", "book", "quote", "deribit_price_index")


class SubscriptionHub:
    """Open websocket sessions and everything pushed to them."""

    def __init__(self, state: VenueState) -> None:
        self.state = state
        self.faults: FaultController | None = None
        """Consulted for notification delays and lost confirmations (set by the server)."""
        self._muted: set[str] = set()
        self.sessions: set[WsSession] = set()
        self._pending_changes: dict[tuple[str, str], dict[str, list[Any]]] = {}
        self._change_ids: dict[str, int] = {}
        state.add_listener(self)

    def attach(self, session: WsSession) -> None:
        """Start serving a new session."""
        self.sessions.add(session)
        session.on_subscribe = self._on_subscribe

    def detach(self, session: WsSession) -> None:
        """Stop serving a session."""
        self.sessions.discard(session)

    # ---- WebsocketFleet -------------------------------------------------------------------
    async def drop_all(self) -> int:
        """Close every session now, without a goodbye."""
        sessions = list(self.sessions)
        await asyncio.gather(*(s.close(WSCloseCode.GOING_AWAY) for s in sessions))
        return len(sessions)

    async def broadcast(self, frame: Mapping[str, Any]) -> int:
        """Queue one frame on every session."""
        sessions = [s for s in self.sessions if not s.closed]
        for session in sessions:
            session.enqueue(dict(frame))
        return len(sessions)

    # ---- market data ----------------------------------------------------------------------
    def publish_market(self) -> None:
        """Send the market channels that changed since they were last sent."""
        cache: dict[str, dict[str, Any]] = {}
        for session in list(self.sessions):
            for channel in list(session.channels.values()):
                if channel.family in _MARKET:
                    self._publish_channel(session, channel, cache)
        self._flush_changes()

    def _on_subscribe(self, session: WsSession, channels: list[Channel]) -> None:
        cache: dict[str, dict[str, Any]] = {}
        for channel in channels:
            if channel.family in _MARKET:
                self._publish_channel(session, channel, cache)

    def _publish_channel(
        self, session: WsSession, channel: Channel, cache: dict[str, dict[str, Any]]
    ) -> None:
        data = self._market_data(session, channel, cache)
        if data is not None:
            session.enqueue(notification(channel.name, data))

    def _market_data(
        self, session: WsSession, channel: Channel, cache: dict[str, dict[str, Any]]
    ) -> Any:
        state = self.state
        if channel.family == "deribit_price_index":
            assert channel.index_name is not None
            underlying = state.index_names()[channel.index_name]
            data: Any = index_notification_json(channel.index_name, state.market.index(underlying))
            return _if_changed(session, channel.name, data)
        assert channel.instrument is not None
        instrument = state.instrument(channel.instrument)
        if instrument.expiry_ms is not None and instrument.expiry_ms <= state.now_ms():
            return None
        if channel.family == "book":
            return self._book_data(session, channel)
        ticker = cache.get(instrument.symbol)
        if ticker is None:
            ticker = cache[instrument.symbol] = state.ticker(instrument)
        if channel.family == "quote":
            data = {
                key: ticker[key]
                for key in (
                    "timestamp",
                    "instrument_name",
                    "best_bid_price",
                    "best_bid_amount",
                    "best_ask_price",
                    "best_ask_amount",
                )
            }
            return _if_changed(session, channel.name, data)
        return _if_changed(session, channel.name, ticker)

    def _book_data(self, session: WsSession, channel: Channel) -> Any:
        assert channel.instrument is not None
        instrument = self.state.instrument(channel.instrument)
        depth = self.state.market.depth(instrument, channel.depth)
        bids = dict(depth.bids)
        asks = dict(depth.asks)
        previous = session.published.get(channel.name)
        change_id = self._change_ids.get(instrument.symbol, 0) + 1
        self._change_ids[instrument.symbol] = change_id
        timestamp = self.state.now_ms()
        if channel.depth is not None:
            if previous == (bids, asks):
                return None
            session.published[channel.name] = (bids, asks)
            return {
                "timestamp": timestamp,
                "instrument_name": instrument.symbol,
                "change_id": change_id,
                "bids": [[p, a] for p, a in depth.bids],
                "asks": [[p, a] for p, a in depth.asks],
            }
        if previous is None:
            session.published[channel.name] = (bids, asks, change_id)
            return {
                "type": "snapshot",
                "timestamp": timestamp,
                "instrument_name": instrument.symbol,
                "change_id": change_id,
                "prev_change_id": None,
                "bids": [["new", p, a] for p, a in depth.bids],
                "asks": [["new", p, a] for p, a in depth.asks],
            }
        old_bids, old_asks, prev_id = previous
        bid_diff, ask_diff = _diff(old_bids, bids), _diff(old_asks, asks)
        if not bid_diff and not ask_diff:
            return None
        session.published[channel.name] = (bids, asks, change_id)
        return {
            "type": "change",
            "timestamp": timestamp,
            "instrument_name": instrument.symbol,
            "change_id": change_id,
            "prev_change_id": prev_id,
            "bids": bid_diff,
            "asks": ask_diff,
        }

    # ---- AccountListener -----------------------------------------------------------------
    def order_changed(self, record: OrderRecord) -> None:
        """Push ``user.orders`` and queue ``user.changes``."""
        if self.faults is not None and self.faults.muted_orders > 0:
            self._muted.add(record.order_id)
        if record.order_id in self._muted:
            return  # this order's cancel confirmation is lost, and everything after it
        order = encode_order(self.state, record)
        for session, channel in self._user_channels(record.account, "user.orders"):
            if channel.covers(record.instrument):
                data: Any = order if channel.interval == "raw" else [order]
                self._send(session, "user.orders", notification(channel.name, data))
        pending = self._pending(record.account, record.instrument.symbol)
        pending["orders"] = [o for o in pending["orders"] if o["order_id"] != record.order_id]
        pending["orders"].append(order)

    def trade_added(self, trade: TradeRecord) -> None:
        """Push ``user.trades`` and public ``trades``, and queue ``user.changes``."""
        record = self.state.registry.get(trade.order_id)
        if record is None:
            return
        data = trade_json(trade, record)
        for session, channel in self._user_channels(record.account, "user.trades"):
            if channel.covers(record.instrument):
                self._send(session, "user.trades", notification(channel.name, [data]))
        public = {k: data[k] for k in _PUBLIC_TRADE_KEYS if k in data}
        for session in list(self.sessions):
            for channel in list(session.channels.values()):
                if channel.family == "trades" and channel.instrument == trade.fill.key.symbol:
                    session.enqueue(notification(channel.name, [public]))
        self._pending(record.account, record.instrument.symbol)["trades"].append(data)

    def account_changed(self, snapshot: AccountSnapshot) -> None:
        """Push ``user.portfolio`` and flush queued ``user.changes`` with fresh positions."""
        self._flush_changes(snapshot)
        sessions = self._user_channels(snapshot.account, "user.portfolio")
        if not sessions:
            return
        account_id = self.state.account_id(snapshot.account)
        summaries = {
            f.currency: summary_json(f, account_id=account_id)
            for f in self.state.account_figures(snapshot)
        }
        for session, channel in sessions:
            summary = summaries.get(channel.currency)
            if summary is not None:
                self._send(session, "user.portfolio", notification(channel.name, summary))

    async def push_portfolios(self) -> None:
        """Push fresh ``user.portfolio`` data to every account somebody watches."""
        accounts = {
            s.account
            for s in self.sessions
            if s.account is not None
            and any(c.family == "user.portfolio" for c in s.channels.values())
        }
        for account in sorted(accounts):
            snapshot = await self.state.broker(account).snapshot()
            self.account_changed(snapshot)

    def _pending(self, account: str, symbol: str) -> dict[str, list[Any]]:
        return self._pending_changes.setdefault((account, symbol), {"orders": [], "trades": []})

    def _flush_changes(self, snapshot: AccountSnapshot | None = None) -> None:
        for (account, symbol), pending in list(self._pending_changes.items()):
            if snapshot is not None and snapshot.account != account:
                continue
            del self._pending_changes[(account, symbol)]
            positions = []
            if snapshot is not None:
                for position in snapshot.positions:
                    if position.key.symbol == symbol:
                        figures = self.state.position_figures(position)
                        if figures is not None:
                            positions.append(position_json(figures))
            data = {"instrument_name": symbol, "positions": positions, **pending}
            instrument = self.state.instrument(symbol)
            for session, channel in self._user_channels(account, "user.changes"):
                if channel.covers(instrument):
                    self._send(session, "user.changes", notification(channel.name, data))

    def _send(self, session: WsSession, family: str, frame: dict[str, Any]) -> None:
        """Queue a private notification, late by the armed delay of its channel family."""
        delay = self.faults.notify_delay_ms.get(family, 0) if self.faults is not None else 0
        if delay <= 0:
            session.enqueue(frame)
        else:
            asyncio.get_running_loop().call_later(delay / 1000, session.enqueue, frame)

    def _user_channels(self, account: str, family: str) -> list[tuple[WsSession, Channel]]:
        return [
            (session, channel)
            for session in list(self.sessions)
            if session.account == account and not session.closed
            for channel in list(session.channels.values())
            if channel.family == family
        ]


_PUBLIC_TRADE_KEYS = (
    "trade_seq",
    "trade_id",
    "timestamp",
    "tick_direction",
    "price",
    "mark_price",
    "iv",
    "instrument_name",
    "index_price",
    "direction",
    "amount",
    "contracts",
)


def _if_changed(session: WsSession, name: str, data: Any) -> Any:
    if session.published.get(name) == data:
        return None
    session.published[name] = data
    return data


def _diff(old: dict[float, float], new: dict[float, float]) -> list[list[Any]]:
    changes: list[list[Any]] = []
    for price in sorted(set(old) | set(new)):
        if price not in new:
            changes.append(["delete", price, 0.0])
        elif price not in old:
            changes.append(["new", price, new[price]])
        elif old[price] != new[price]:
            changes.append(["change", price, new[price]])
    return changes
