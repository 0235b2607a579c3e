"""The core: pure, synchronous, deterministic rules over model values (units, Black-76 greeks,
risk, shocks, headroom, hedge policy, guards, order lifecycle, margin alert levels, run stats,
fencing).

Each rule is written once, here. It imports only `hedgebot.model`; it must not import the daemon,
the venues, the operator layer, config or the composition root, nor do I/O, log, sleep or read a
clock (contracts in pyproject.toml, ``[tool.importlinter]``).
"""
