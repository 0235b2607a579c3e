"""Pieces shared by the local protocol exchanges other than Deribit (Binance USDⓈ-M, Bybit, OKX).

* `prices`: the price path of each underlying (a seeded random walk, or another venue's index
  plus a basis, so that two local venues quote the same market).
* `faults`: one-shot faults armed by tests or operators (lost answers, rate limits, delays,
  error answers, dropped websockets) and consumed by the servers.
* `requestlog`: the log of every request a server answered, without secrets.

Nothing here knows a venue's wire format. It must not import ccxt.
"""
