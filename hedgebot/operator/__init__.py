"""The operator layer: side channels the trading loop never waits on (alerts and their
channels, Prometheus metrics, the HTTP endpoint, sd_notify, the console, the control client,
the risk report, logs, and `surface`, which feeds them from each turn).

It may read the daemon, core and model; it must not import a venue adapter or the composition
root, and nothing below it may import it (contracts in pyproject.toml, ``[tool.importlinter]``).
"""
