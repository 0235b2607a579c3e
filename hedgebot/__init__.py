"""hedgebot: a self-hosted daemon that keeps crypto derivatives books delta-neutral.

The package owns nothing at import time: importing it must stay fast and must not import ccxt.
"""

__version__ = "0.1.0"
