"""The daemon: the async shell around the core (book state, market sanity, engine, executor,
gatekeeper, start-up gates, SQLite journal, instance lock and fence, supervisor, exit statuses).

It talks to venues only through the ports (`hedgebot.venues.ports`); it must not import a venue
adapter (`hedgebot.venues.ccxt`, `hedgebot.venues.sim`), the operator layer or the composition
root (contracts in pyproject.toml, ``[tool.importlinter]``).
"""
