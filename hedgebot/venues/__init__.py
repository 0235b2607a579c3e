"""The venues: the ports (`ports`, typing.Protocol) and the adapters behind them: `ccxt` (real
venues through ccxt, the only package where ccxt exists) and `sim` (the built-in simulated
exchange and the paper ledger).

Adapters must not import each other, the daemon, the operator layer or the composition root;
only the composition root (`hedgebot.app`, `hedgebot.venue_wiring`) imports an adapter
(contracts in pyproject.toml, ``[tool.importlinter]``).
"""
