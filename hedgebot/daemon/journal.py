"""The journal: an SQLite (WAL) file per mode holding decisions, orders, fills, risk snapshots
and operational events, so that a restart finds its own history.

Owns the schema and every read and write of it. Order intents are committed *before* the order
is sent (a `kill -9` after the send finds the intent and reconciles it by client id); a fill is
stored once per (venue, trade id), whatever number of times the venue reports it. It must never
store secrets: callers pass values, never settings.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hedgebot.model.orders import Fill, OrderRequest

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, underlying TEXT NOT NULL,
    action TEXT NOT NULL, order_delta REAL NOT NULL, net_delta REAL NOT NULL,
    target REAL NOT NULL, band REAL NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    client_id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
    underlying TEXT NOT NULL, account TEXT NOT NULL, venue TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, amount REAL NOT NULL, limit_price REAL NOT NULL,
    reduce_only INTEGER NOT NULL, state TEXT NOT NULL, filled REAL NOT NULL DEFAULT 0,
    venue_order_id TEXT, reason TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS fills (
    venue TEXT NOT NULL, trade_id TEXT NOT NULL, client_id TEXT NOT NULL, account TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, amount REAL NOT NULL, price REAL NOT NULL,
    fee REAL NOT NULL, fee_currency TEXT NOT NULL, ts_ms INTEGER NOT NULL,
    PRIMARY KEY (venue, trade_id));
CREATE TABLE IF NOT EXISTS risk (
    ts_ms INTEGER NOT NULL, underlying TEXT NOT NULL, price REAL NOT NULL,
    net_delta REAL NOT NULL, gamma REAL NOT NULL, vega REAL NOT NULL,
    target REAL NOT NULL, band REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_state ON orders (state);
CREATE INDEX IF NOT EXISTS fills_client ON fills (client_id);
"""

TERMINAL_STATES = ("filled", "cancelled", "rejected", "lost")


@dataclass(frozen=True, slots=True, kw_only=True)
class JournaledOrder:
    """An order as the journal remembers it."""

    client_id: str
    underlying: str
    account: str
    venue: str
    symbol: str
    side: str
    amount: float
    limit_price: float
    reduce_only: bool
    state: str
    filled: float
    created_ms: int


class Journal:
    """Append-mostly store of everything the daemon decided and did."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Flush and close the file."""
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def record_decision(
        self,
        *,
        ts_ms: int,
        underlying: str,
        action: str,
        order_delta: float,
        net_delta: float,
        target: float,
        band: float,
        reason: str,
    ) -> None:
        """Store one policy decision with its reason."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO decisions (ts_ms, underlying, action, order_delta, net_delta, target,"
                " band, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ts_ms, underlying, action, order_delta, net_delta, target, band, reason),
            )

    def record_intent(self, order: OrderRequest, *, underlying: str, ts_ms: int) -> None:
        """Commit an order intent before it is sent (state pending_submit)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO orders (client_id, created_ms, updated_ms, underlying, account, venue,"
                " symbol, side, amount, limit_price, reduce_only, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending_submit')",
                (
                    order.client_id,
                    ts_ms,
                    ts_ms,
                    underlying,
                    order.account,
                    order.key.venue,
                    order.key.symbol,
                    order.side.value,
                    order.amount,
                    order.limit_price,
                    int(order.reduce_only),
                ),
            )

    def record_order_state(
        self,
        client_id: str,
        *,
        state: str,
        filled: float,
        ts_ms: int,
        venue_order_id: str | None = None,
        reason: str = "",
    ) -> None:
        """Update what is known about one order."""
        with self._tx() as db:
            db.execute(
                "UPDATE orders SET state = ?, filled = ?, updated_ms = ?,"
                " venue_order_id = COALESCE(?, venue_order_id),"
                " reason = CASE WHEN ? = '' THEN reason ELSE ? END WHERE client_id = ?",
                (state, filled, ts_ms, venue_order_id, reason, reason, client_id),
            )

    def record_fill(self, fill: Fill) -> bool:
        """Store a fill once; False when this (venue, trade id) was already stored."""
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO fills (venue, trade_id, client_id, account, symbol, side,"
                " amount, price, fee, fee_currency, ts_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fill.key.venue,
                    fill.trade_id,
                    fill.client_id,
                    fill.account,
                    fill.key.symbol,
                    fill.side.value,
                    fill.amount,
                    fill.price,
                    fill.fee,
                    fill.fee_currency,
                    fill.timestamp_ms,
                ),
            )
            return cursor.rowcount == 1

    def record_risk(
        self,
        *,
        ts_ms: int,
        underlying: str,
        price: float,
        net_delta: float,
        gamma: float,
        vega: float,
        target: float,
        band: float,
    ) -> None:
        """Store one risk snapshot row."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO risk VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ts_ms, underlying, price, net_delta, gamma, vega, target, band),
            )

    def record_event(self, *, ts_ms: int, kind: str, detail: Mapping[str, object]) -> None:
        """Store an operational event (trading state change, alert, reconciliation)."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO events (ts_ms, kind, detail) VALUES (?, ?, ?)",
                (ts_ms, kind, json.dumps(detail, sort_keys=True, default=str)),
            )

    def unfinished_orders(self) -> list[JournaledOrder]:
        """Orders not known to be terminal: the restart reconciles these first."""
        marks = ",".join("?" * len(TERMINAL_STATES))
        rows = self._db.execute(
            "SELECT client_id, underlying, account, venue, symbol, side, amount, limit_price,"
            f" reduce_only, state, filled, created_ms FROM orders WHERE state NOT IN ({marks})"
            " ORDER BY created_ms",
            TERMINAL_STATES,
        ).fetchall()
        return [
            JournaledOrder(
                client_id=r[0],
                underlying=r[1],
                account=r[2],
                venue=r[3],
                symbol=r[4],
                side=r[5],
                amount=r[6],
                limit_price=r[7],
                reduce_only=bool(r[8]),
                state=r[9],
                filled=r[10],
                created_ms=r[11],
            )
            for r in rows
        ]

    def orders_missing_fills(self) -> list[tuple[str, str, str, str]]:
        """(client_id, account, venue, symbol) of orders whose journaled filled amount exceeds
        the fills journaled for them: trades a stream dropped, or a run died before storing."""
        rows = self._db.execute(
            "SELECT o.client_id, o.account, o.venue, o.symbol FROM orders o"
            " LEFT JOIN (SELECT client_id, SUM(amount) AS traded FROM fills GROUP BY client_id) f"
            " ON f.client_id = o.client_id"
            " WHERE o.filled > COALESCE(f.traded, 0) * (1 + 1e-9) + 1e-12"
        ).fetchall()
        return [(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]

    def last_fill_ms(self, venue: str) -> int | None:
        """Timestamp of the newest fill stored for `venue`."""
        row = self._db.execute("SELECT MAX(ts_ms) FROM fills WHERE venue = ?", (venue,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def count(self, table: str) -> int:
        """Number of rows of one table (decisions, orders, fills, risk, events)."""
        if table not in ("decisions", "orders", "fills", "risk", "events"):
            raise ValueError(f"no journal table {table!r}")
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def installation_id(self) -> str:
        """A short random id made once per journal: the stable part of our client ids, so a
        restart recognises its own orders on the venue, and two installations never clash."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'installation'").fetchone()
        if row is not None:
            return str(row[0])
        value = secrets.token_hex(3)
        with self._tx() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('installation', ?)", (value,))
        return value

    def count_events(self, kind: str) -> int:
        """How many events of one kind were journaled (e.g. daemon.started: runs so far)."""
        row = self._db.execute("SELECT COUNT(*) FROM events WHERE kind = ?", (kind,)).fetchone()
        return int(row[0])

    def client_ids_with_prefix(self, prefix: str) -> list[str]:
        """Client ids of orders created with a given prefix (used to continue numbering)."""
        rows = self._db.execute(
            "SELECT client_id FROM orders WHERE client_id LIKE ? ORDER BY created_ms",
            (prefix + "%",),
        )
        return [str(r[0]) for r in rows]
