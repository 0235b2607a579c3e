"""Shared test support: sample instruments, harnesses for the daemon (simulated and live), the
scriptable fake Deribit endpoint, recorded ccxt exchanges, the local-exchange helpers and a
webhook receiver."""
