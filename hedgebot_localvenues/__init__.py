"""Local protocol servers of real venues: test support with a user-facing command, outside
the product's import graph.

`deribit` serves Deribit's API v2 on 127.0.0.1 (``hedgebot exchange-sim``,
``python -m hedgebot_localvenues.deribit``) so that unmodified ccxt and the real daemon can be
tested end to end. Further venue servers sit beside it (``hedgebot_localvenues/<venue>/``).

These packages may import hedgebot (its model, core and simulated venue); hedgebot imports
them nowhere but inside the ``exchange-sim`` command handler of `hedgebot.cli` (contract in
pyproject.toml, ``[tool.importlinter]``). They must not import ccxt.
"""
