"""The journal as durable state: schema versions and forward migration, refusal of unusable
files without touching them, owner-only files, the instance lock, the fencing epoch and the
trading flags."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from hedgebot.daemon import journal as journal_module
from hedgebot.daemon.journal import SCHEMA_VERSION, Journal
from hedgebot.model.errors import AlreadyRunning, StateUnusable
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import OrderRequest, Side
from hedgebot.model.trading import Halt, HaltCause

KEY = InstrumentKey("deribit", "BTC-PERPETUAL")

# The layout written by releases before the schema had a version (user_version 0), verbatim.
V1_LAYOUT = journal_module._SCHEMA_V1


def _request(client_id: str) -> OrderRequest:
    return OrderRequest(
        client_id=client_id,
        account="main",
        key=KEY,
        side=Side.SELL,
        amount=100.0,
        limit_price=60_000.0,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _v1_journal(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(V1_LAYOUT)
        db.execute(
            "INSERT INTO orders (client_id, created_ms, updated_ms, underlying, account, venue,"
            " symbol, side, amount, limit_price, reduce_only, state)"
            " VALUES ('hbabcdefn1', 1, 1, 'BTC', 'main', 'deribit', 'BTC-PERPETUAL', 'sell',"
            " 100, 60000, 0, 'open')"
        )
        db.execute("INSERT INTO meta (key, value) VALUES ('installation', 'abcdef')")
    db.close()


def test_a_journal_of_every_earlier_version_is_migrated_forward_keeping_its_rows(
    tmp_path: Path,
) -> None:
    """Version 1 (no user_version yet): its orders and installation id survive, the flags table
    appears, and the file says the current version."""
    path = tmp_path / "journal-paper.sqlite"
    _v1_journal(path)
    journal = Journal(path)
    assert [o.client_id for o in journal.unfinished_orders()] == ["hbabcdefn1"]
    assert journal.installation_id() == "abcdef"
    journal.set_flag("operator", reason="margin call", set_by="operator", ts_ms=5)
    journal.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_journal_from_a_newer_release_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "journal-paper.sqlite"
    Journal(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = _digest(path)
    with pytest.raises(StateUnusable, match="newer than this release"):
        Journal(path)
    assert _digest(path) == before


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_or_truncated_journal_is_refused_and_left_untouched(
    tmp_path: Path, damage: str
) -> None:
    path = tmp_path / "journal-paper.sqlite"
    journal = Journal(path)
    for n in range(300):
        journal.record_intent(_request(f"hbabcdefn{n}"), underlying="BTC", ts_ms=n)
    journal.close()
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"this is not an sqlite file at all" * 200)
    else:
        path.write_bytes(data[: len(data) // 2])
    before = _digest(path)
    with pytest.raises(StateUnusable, match="journal"):
        Journal(path)
    assert _digest(path) == before


def test_an_unusable_state_directory_is_refused(tmp_path: Path) -> None:
    """A state directory that is a file, and a journal path that is a directory."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(StateUnusable, match="state directory"):
        Journal(blocker / "state" / "journal-paper.sqlite")
    (tmp_path / "journal-paper.sqlite").mkdir()
    with pytest.raises(StateUnusable, match="not a regular file"):
        Journal(tmp_path / "journal-paper.sqlite")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_state_directory_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o500)
    try:
        with pytest.raises(StateUnusable, match="not writable"):
            Journal(state / "journal-paper.sqlite")
    finally:
        state.chmod(0o700)


def test_journal_and_lock_files_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state" / "journal-paper.sqlite")
    journal.record_event(ts_ms=1, kind="test", detail={})
    for name in ("journal-paper.sqlite", "journal-paper.sqlite-wal", "hedgebot.lock"):
        mode = stat.S_IMODE((tmp_path / "state" / name).stat().st_mode)
        assert mode & 0o077 == 0, f"{name} is {oct(mode)}"
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) & 0o077 == 0
    journal.close()


def test_a_second_journal_on_the_same_state_directory_is_refused_while_the_first_is_open(
    tmp_path: Path,
) -> None:
    first = Journal(tmp_path / "journal-paper.sqlite")
    with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
        Journal(tmp_path / "journal-live.sqlite")
    first.close()
    Journal(tmp_path / "journal-live.sqlite").close()


def test_a_stale_process_cannot_journal_an_intent_after_a_newer_one_took_over(
    tmp_path: Path,
) -> None:
    """Without the lock (a lost lock, a network file system), the fencing epoch still stops the
    older process: its next intent is refused, so it never sends."""
    path = tmp_path / "journal-paper.sqlite"
    old = Journal(path, lock=False)
    old.record_intent(_request("hbabcdefn1"), underlying="BTC", ts_ms=1)
    new = Journal(path, lock=False)
    assert new.epoch == old.epoch + 1
    with pytest.raises(AlreadyRunning, match="fenced out"):
        old.record_intent(_request("hbabcdefn2"), underlying="BTC", ts_ms=2)
    new.record_intent(_request("hbabcdefn3"), underlying="BTC", ts_ms=3)
    assert [o.client_id for o in new.unfinished_orders()] == ["hbabcdefn1", "hbabcdefn3"]
    old.close()
    new.close()


def test_trading_flags_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "journal-paper.sqlite"
    journal = Journal(path)
    journal.set_flag("operator", reason="margin call", set_by="operator", ts_ms=10)
    journal.set_flag("underlying:BTC", reason="3 rejects", set_by="guard", ts_ms=11)
    journal.close()
    again = Journal(path)
    assert [(f.name, f.reason, f.set_by, f.set_ms) for f in again.flags()] == [
        ("operator", "margin call", "operator", 10),
        ("underlying:BTC", "3 rejects", "guard", 11),
    ]
    assert again.clear_flags() == 2
    assert again.flags() == []
    again.close()


def test_typed_halts_round_trip_under_the_flag_names_earlier_releases_wrote(
    tmp_path: Path,
) -> None:
    """Each halt cause is stored under the name earlier releases used, so their journals
    restore; reading it back gives the same typed halt."""
    halts = [
        Halt(cause=HaltCause.OPERATOR, reason="margin call", set_by="operator"),
        Halt(cause=HaltCause.KILL_SWITCH, reason="net delta $2.1M", set_by="kill switch"),
        Halt(cause=HaltCause.UNDERLYING, subject="ETH", reason="3 rejects", set_by="guard"),
        Halt(
            cause=HaltCause.INSTRUMENT,
            subject="deribit:BTC-PERPETUAL",
            reason="order hbabcdefn4 lost",
            set_by="order.lost",
        ),
    ]
    path = tmp_path / "journal-paper.sqlite"
    journal = Journal(path)
    for n, halt in enumerate(halts):
        journal.set_halt(halt, ts_ms=10 + n)
    journal.close()
    again = Journal(path)
    flags = again.flags()
    assert [f.name for f in flags] == [
        "operator",
        "kill_switch",
        "underlying:ETH",
        "instrument:deribit:BTC-PERPETUAL",
    ]
    assert [f.halt for f in flags] == halts
    again.clear_flags()
    again.set_flag("underlying:BTC", reason="3 rejects", set_by="guard", ts_ms=20)  # by name
    again.set_flag("someday:x", reason="?", set_by="a newer release", ts_ms=21)
    assert [f.halt for f in again.flags()] == [
        Halt(cause=HaltCause.UNDERLYING, subject="BTC", reason="3 rejects", set_by="guard"),
        None,
    ]
    again.close()
