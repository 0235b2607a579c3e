"""The journal: an SQLite (WAL) file per mode holding decisions, orders, fills, risk snapshots,
operational events and the durable trading flags, so that a restart finds its own history.

Owns the schema (versioned by ``PRAGMA user_version``, with forward migrations), every read and
write of it, and the checks made before it is used: a corrupt file, one written by a newer
release, or a read-only state directory is refused (`StateUnusable`) without being modified.
Order intents are committed *before* the order is sent (a `kill -9` after the send finds the
intent and reconciles it by client id); a fill is stored once per (venue, trade id), whatever
number of times the venue reports it. Every commit is synced (``synchronous=FULL``): a fact
journaled is never lost, even to a power cut. The file is created readable by its owner only,
and held under the state directory's instance lock (`hedgebot.daemon.fence`) with a fencing
epoch: a process whose epoch is no longer the journal's cannot journal an intent, so it cannot
send. It must never store secrets: callers pass values, never settings.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hedgebot.core.fencing import may_send
from hedgebot.daemon.fence import InstanceLock
from hedgebot.model.errors import AlreadyRunning, StateUnusable
from hedgebot.model.orders import Fill, OrderRequest
from hedgebot.model.trading import Halt

_SCHEMA_V1 = """
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

_MIGRATIONS: dict[int, str] = {
    # version 1 -> 2: durable trading flags (operator halt, kill switch, per-underlying and
    # per-instrument halts) and the fencing epoch (a meta row, written at open).
    2: """
CREATE TABLE IF NOT EXISTS flags (
    name TEXT PRIMARY KEY, reason TEXT NOT NULL, set_by TEXT NOT NULL, set_ms INTEGER NOT NULL);
""",
}
SCHEMA_VERSION = max(_MIGRATIONS)
"""The schema this release writes. Files from earlier releases are migrated forward at open;
a file from a newer release is refused."""

LOCK_NAME = "hedgebot.lock"


@dataclass(frozen=True, slots=True, kw_only=True)
class Flag:
    """A durable trading flag: who set it, when and why."""

    name: str
    reason: str
    set_by: str
    set_ms: int

    @property
    def halt(self) -> Halt | None:
        """The typed halt this flag stores (None for a name no release writes)."""
        return Halt.from_flag(self.name, reason=self.reason, set_by=self.set_by)


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

    def __init__(self, path: Path, *, lock: bool = True) -> None:
        self.path = path
        _prepare_directory(path.parent)
        self._lock = InstanceLock(path.parent / LOCK_NAME) if lock else None
        try:
            if path.exists():
                _check_existing(path)
            else:
                _create_private(path)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
            self.epoch = self._advance_epoch()
        except sqlite3.Error as exc:
            self._release()
            raise StateUnusable(f"journal {path}: {exc}") from None
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        has_tables = self._db.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'orders'"
        ).fetchone()[0]
        if version == 0 and has_tables:
            version = 1  # written before the schema had a version: the v1 layout
        with self._tx() as db:
            if version == 0:
                for statement in _statements(_SCHEMA_V1):
                    db.execute(statement)
                version = 1
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(_MIGRATIONS[target]):
                    db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _advance_epoch(self) -> int:
        """Take over the journal: one more than the last epoch. An older process still running
        (its lock lost, e.g. on a network file system) is fenced out by `record_intent`."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            epoch = (int(row[0]) if row else 0) + 1
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epoch', ?)", (epoch,))
        return epoch

    def close(self) -> None:
        """Flush and close the file; release the instance lock."""
        try:
            self._db.close()
        finally:
            self._release()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            # A full disk, an I/O error, a file changed under us: nothing more can be journaled,
            # so nothing more may be sent. Everything committed so far is kept.
            raise StateUnusable(f"journal write failed ({self.path}): {exc}") from None

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
        """Commit an order intent before it is sent (state pending_submit).

        Refused (`AlreadyRunning`) when another process has taken the journal over since this
        one opened it: a stale process never sends after a newer one started."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            current = int(row[0]) if row else 0
            if not may_send(own_epoch=self.epoch, journal_epoch=current):
                raise AlreadyRunning(
                    f"fenced out: another hedgebot took over {self.path} (epoch {current}, "
                    f"this process {self.epoch}); not sending {order.client_id}"
                )
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

    def set_flag(self, name: str, *, reason: str, set_by: str, ts_ms: int) -> None:
        """Persist a trading flag (a halt, the kill switch): it survives a restart."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO flags (name, reason, set_by, set_ms) VALUES (?, ?, ?, ?)",
                (name, reason, set_by, ts_ms),
            )

    def set_halt(self, halt: Halt, *, ts_ms: int) -> None:
        """Persist a typed halt under its flag name (`Halt.flag_name`)."""
        self.set_flag(halt.flag_name, reason=halt.reason, set_by=halt.set_by, ts_ms=ts_ms)

    def clear_flags(self, prefix: str = "") -> int:
        """Remove the flags whose name starts with `prefix` (all by default); how many."""
        with self._tx() as db:
            cursor = db.execute("DELETE FROM flags WHERE name LIKE ?", (prefix + "%",))
            return cursor.rowcount

    def flags(self) -> list[Flag]:
        """Every persisted trading flag, oldest first."""
        rows = self._db.execute(
            "SELECT name, reason, set_by, set_ms FROM flags ORDER BY set_ms, name"
        ).fetchall()
        return [Flag(name=r[0], reason=r[1], set_by=r[2], set_ms=int(r[3])) for r in rows]


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def _prepare_directory(directory: Path) -> None:
    """The state directory exists (created owner-only) and can be written."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StateUnusable(f"state directory {directory}: {exc.strerror}") from None
    if not directory.is_dir():
        raise StateUnusable(f"state directory {directory} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise StateUnusable(f"state directory {directory} is not writable by this user")


def _create_private(path: Path) -> None:
    """Create the journal file readable by its owner only (SQLite gives its -wal and -shm files
    the same permissions)."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StateUnusable(f"journal {path}: {exc.strerror}") from None


def _check_existing(path: Path) -> None:
    """Refuse a journal that is not a readable SQLite file, fails its integrity check, or was
    written by a newer release, without writing to it (opened read-only)."""
    if not path.is_file():
        raise StateUnusable(f"journal {path} is not a regular file")
    if not os.access(path, os.R_OK | os.W_OK):
        raise StateUnusable(f"journal {path} is not readable and writable by this user")
    if path.stat().st_size == 0:
        return  # created, then killed before the schema was written: a new journal
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StateUnusable(f"journal {path}: {exc}") from None
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        check = str(db.execute("PRAGMA quick_check").fetchone()[0])
    except sqlite3.Error as exc:
        raise StateUnusable(f"journal {path} is corrupt: {exc}") from None
    finally:
        db.close()
    if check != "ok":
        raise StateUnusable(f"journal {path} is corrupt: {check}")
    if version > SCHEMA_VERSION:
        raise StateUnusable(
            f"journal {path} has schema version {version}, newer than this release's "
            f"{SCHEMA_VERSION}: run the newer hedgebot, or move the file aside"
        )
