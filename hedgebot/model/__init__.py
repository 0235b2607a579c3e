"""The model: frozen values every layer shares (instruments, market data, accounts, orders,
errors, alerts, turn views, daemon events, trading states and reason codes).

Owns plain value types and their invariants, nothing that acts. It must not import anything
else of hedgebot (the clock aside), nor do I/O, log or read a clock (contracts in pyproject.toml,
``[tool.importlinter]``).
"""
