"""The journal finds orders whose trades it does not all hold (for the restart catch-up)."""

from __future__ import annotations

from pathlib import Path

from hedgebot.daemon.journal import Journal
from hedgebot.model.instruments import InstrumentKey
from hedgebot.model.orders import Fill, OrderRequest, Side

KEY = InstrumentKey("deribit", "BTC-PERPETUAL")


def _order(journal: Journal, client_id: str, filled: float) -> None:
    journal.record_intent(
        OrderRequest(
            client_id=client_id,
            account="main",
            key=KEY,
            side=Side.SELL,
            amount=100.0,
            limit_price=60_000.0,
        ),
        underlying="BTC",
        ts_ms=1,
    )
    journal.record_order_state(client_id, state="filled", filled=filled, ts_ms=2)


def _fill(journal: Journal, client_id: str, trade_id: str, amount: float) -> bool:
    return journal.record_fill(
        Fill(
            trade_id=trade_id,
            client_id=client_id,
            account="main",
            key=KEY,
            side=Side.SELL,
            amount=amount,
            price=60_000.0,
            fee=0.0,
            fee_currency="BTC",
            timestamp_ms=3,
        )
    )


def test_orders_missing_fills_lists_only_orders_short_of_their_trades(tmp_path: Path) -> None:
    """An order filled 100 with 60 journaled is listed; one with all 100 is not; a fill
    reported twice is stored once."""
    journal = Journal(tmp_path / "journal.sqlite")
    _order(journal, "short", 100.0)
    _order(journal, "complete", 100.0)
    assert _fill(journal, "short", "T1", 60.0)
    assert _fill(journal, "complete", "T2", 60.0)
    assert _fill(journal, "complete", "T3", 40.0)
    assert not _fill(journal, "complete", "T3", 40.0)
    assert journal.orders_missing_fills() == [("short", "main", "deribit", "BTC-PERPETUAL")]
    journal.close()
