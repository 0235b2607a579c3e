"""The synthetic market quotes every kind of instrument sanely and deterministically."""

from __future__ import annotations

import itertools
import math

import pytest

from hedgebot.core.greeks import black76
from hedgebot.model.instruments import years_between
from hedgebot.model.market import Quote
from hedgebot.venues.sim import BTC, MarketSettings, SyntheticMarket, sim_instrument
from hedgebot.venues.sim.settings import BookSettings

SYMBOLS = (
    "BTC-PERPETUAL",
    "BTC_USDC-PERPETUAL",
    "BTC_USDC",
    "BTC-27MAR26",
    "BTC-27MAR26-50000-P",
    "BTC-27MAR26-60000-C",
    "BTC-27MAR26-60000-P",
    "BTC-27MAR26-90000-C",
    "ETH-30JAN26-3000-C",
    "ETH-PERPETUAL",
)
INSTRUMENTS = [sim_instrument("sim", s) for s in SYMBOLS]


def _market(seed: int = 1) -> SyntheticMarket:
    return SyntheticMarket(venue="sim", settings=MarketSettings(seed=seed))


def _walk(market: SyntheticMarket, steps: range) -> list[list[Quote]]:
    quotes = []
    for step in steps:
        market.seek(step)
        quotes.append(market.quotes(INSTRUMENTS))
    return quotes


def test_same_seed_same_quotes_different_seed_different_quotes() -> None:
    """Two markets with one seed quote identically; another seed quotes differently."""
    first = _walk(_market(1), range(0, 3000, 100))
    again = _walk(_market(1), range(0, 3000, 100))
    other = _walk(_market(2), range(0, 3000, 100))
    assert first == again
    assert first[-1] != other[-1]


def test_quotes_are_positive_and_bid_below_ask_on_ticks() -> None:
    """Every quote over an hour has positive marks, bid below ask, both on the tick."""
    for row in _walk(_market(), range(0, 3600, 60)):
        for instrument, quote in zip(INSTRUMENTS, row, strict=True):
            assert quote.mark_price > 0
            assert quote.underlying_price > 0
            assert 0 <= quote.bid < quote.ask
            for price in (quote.bid, quote.ask):
                ticks = price / instrument.tick_size
                assert ticks == pytest.approx(round(ticks), abs=1e-6)


def test_forward_carries_the_basis_and_perp_the_premium() -> None:
    """Futures trade at S·exp(basis·τ); perps at the spot plus a small premium with funding."""
    market = _market()
    spot = market.index("BTC").price
    future, perp = market.quote(INSTRUMENTS[3]), market.quote(INSTRUMENTS[0])
    tau = years_between(market.time_of(0), INSTRUMENTS[3].expiry_ms or 0)
    assert future.mark_price == pytest.approx(spot * math.exp(BTC.basis * tau), rel=1e-12)
    assert perp.mark_price == pytest.approx(spot * (1 + BTC.perp_premium_mean), rel=1e-12)
    assert perp.funding_rate_8h == pytest.approx(BTC.perp_premium_mean)
    assert perp.underlying_price == perp.mark_price
    assert future.funding_rate_8h is None
    assert future.mark_iv is None


def test_option_marks_are_black76_in_coin_with_a_smile() -> None:
    """Option marks are Black-76 at their mark_iv over the forward, and OTM puts carry skew."""
    market = _market()
    quotes = {q.key.symbol: q for q in market.quotes(INSTRUMENTS)}
    call = quotes["BTC-27MAR26-60000-C"]
    instrument = INSTRUMENTS[5]
    tau = years_between(call.timestamp_ms, instrument.expiry_ms or 0)
    assert call.mark_iv is not None
    usd = black76(call.underlying_price, 60000.0, tau, call.mark_iv, True).price
    assert call.mark_price == pytest.approx(float(usd) / call.underlying_price, rel=1e-12)
    low_put, high_call = quotes["BTC-27MAR26-50000-P"], quotes["BTC-27MAR26-90000-C"]
    assert low_put.mark_iv is not None
    assert high_call.mark_iv is not None
    assert low_put.mark_iv > call.mark_iv
    assert high_call.mark_iv > call.mark_iv
    assert 0.3 < call.mark_iv < 1.0


def test_put_call_parity_holds_in_coin() -> None:
    """Call minus put of one strike is (F − K)/F coin, as it must be with one vol per strike."""
    quotes = {q.key.symbol: q for q in _market().quotes(INSTRUMENTS)}
    call, put = quotes["BTC-27MAR26-60000-C"], quotes["BTC-27MAR26-60000-P"]
    forward = call.underlying_price
    assert call.mark_price - put.mark_price == pytest.approx((forward - 60000) / forward, abs=1e-12)


def test_book_levels_grow_away_from_the_top() -> None:
    """Depth has the configured number of levels, worse prices and bigger sizes away from top."""
    market = _market()
    for instrument in (INSTRUMENTS[0], INSTRUMENTS[5], INSTRUMENTS[2]):
        book = market.book(instrument)
        quote = market.quote(instrument)
        assert len(book.asks) == len(book.bids) == BookSettings().levels
        assert book.asks[0].price == quote.ask
        assert book.bids[0].price == quote.bid
        for side, worse in ((book.asks, 1), (book.bids, -1)):
            for near, far in itertools.pairwise(side):
                assert (far.price - near.price) * worse > 0
                assert far.amount > near.amount
                assert far.amount / instrument.contract_size == pytest.approx(
                    round(far.amount / instrument.contract_size)
                )


def test_spreads_follow_the_settings() -> None:
    """Options are quoted wider than perpetuals, as configured."""
    quotes = {q.key.symbol: q for q in _market().quotes(INSTRUMENTS)}
    perp, call = quotes["BTC-PERPETUAL"], quotes["BTC-27MAR26-60000-C"]
    perp_width = (perp.ask - perp.bid) / perp.mark_price
    call_width = (call.ask - call.bid) / call.mark_price
    settings = BookSettings()
    assert perp_width == pytest.approx(settings.future_spread_bps * 1e-4, abs=2 * 0.5 / 60000)
    assert call_width > 10 * perp_width


def test_series_matches_quotes_step_by_step() -> None:
    """Prices over a range of steps, computed at once, equal the quotes of each step."""
    market = _market()
    option = INSTRUMENTS[5]
    market.seek(1)
    series = market.series(option, 1, 50)
    for offset, step in enumerate(range(1, 51)):
        market.seek(step)
        quote = market.quote(option)
        assert series.bid[offset] == quote.bid
        assert series.ask[offset] == quote.ask
        assert series.mark[offset] == pytest.approx(quote.mark_price, rel=1e-12)
