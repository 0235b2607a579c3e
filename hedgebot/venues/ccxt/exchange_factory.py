"""Build ccxt.pro exchange instances from `hedgebot.config.VenueSettings`.

Owns every ccxt constructor argument hedgebot uses:

* rate limiting on; the websocket keepalive from ``keepalive_ms`` (ccxt reads the top-level
  ``streaming`` key: ``options={'streaming': ...}`` is silently ignored by ccxt 4.5.90);
* endpoint overrides (``rest_url``/``ws_url``, for testnets and local exchanges): the override's
  origin (plus an optional path prefix) replaces the origin of every REST or websocket URL in
  ``urls['api']``; Deribit takes ``urls['api']['rest']`` (origin only) and ``urls['api']['ws']``.
  With an override ``urls['test']`` is dropped so that sandbox mode can never swap in a real
  testnet; without one ``sandbox = true`` calls ``set_sandbox_mode``;
* credentials, read through `hedgebot.config.read_secret` only when asked (live trading),
  with the key's passphrase (``api_password``) where the exchange has one (OKX);
* a separate order-entry instance whose aiohttp session never reuses a connection
  (``TCPConnector(force_close=True)``), so aiohttp cannot silently re-send a ``private/buy``
  over a dropped keep-alive connection (docs/venues.md, "Silent duplicate orders on Deribit").

ccxt is imported inside the functions only: importing this module stays cheap.
It must not start any network I/O.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog

from hedgebot.config import VenueSettings, read_secret
from hedgebot.model.errors import ConfigError

log = structlog.get_logger(__name__)

SUPPORTED_EXCHANGES = ("deribit", "binanceusdm", "binancecoinm", "bybit", "okx")
PASSPHRASE_EXCHANGES = ("okx",)
"""Exchanges whose API keys come with a passphrase (ccxt's ``password`` credential)."""
_DERIBIT_REST_SUFFIX = "/api/v2"
_DERIBIT_WS_PATH = "/ws/api/v2"


def create_exchange(
    settings: VenueSettings, *, venue: str, credentials: bool = False, session: Any = None
) -> Any:
    """A ccxt.pro exchange for `settings` (market data and account reads unless given a session).

    Raises ConfigError for an unknown exchange id or missing credentials.
    """
    import ccxt.pro as ccxtpro  # lazy: ccxt costs ~0.7 s to import

    _check_exchange_id(settings, venue=venue)
    config: dict[str, Any] = {
        "enableRateLimit": True,
        "streaming": {"keepAlive": settings.keepalive_ms},
    }
    if session is not None:
        config["session"] = session
    if credentials:
        config.update(_credentials(settings, venue=venue))
    exchange = getattr(ccxtpro, settings.exchange)(config)
    if settings.rest_url is not None or settings.ws_url is not None:
        exchange.urls["api"] = override_endpoints(
            exchange.urls["api"],
            exchange_id=settings.exchange,
            rest_url=settings.rest_url,
            ws_url=settings.ws_url,
        )
        exchange.urls.pop("test", None)
        if settings.rest_url is None or settings.ws_url is None:
            log.warning("exchange.partial_override", venue=venue, exchange=settings.exchange)
    elif settings.sandbox:
        exchange.set_sandbox_mode(True)
    return exchange


def create_order_entry_exchange(settings: VenueSettings, *, venue: str) -> Any:
    """A credentialed instance for order entry only: connections are never reused and a request
    is never re-sent by the HTTP layer.

    Call it inside the running event loop; release it with `close_exchange`.
    """
    import ssl

    import aiohttp
    import certifi  # ccxt's own CA bundle

    _check_exchange_id(settings, venue=venue)
    _credentials(settings, venue=venue)  # fail before any session exists
    connector = aiohttp.TCPConnector(
        force_close=True, ssl=ssl.create_default_context(cafile=certifi.where())
    )
    session = aiohttp.ClientSession(connector=connector)
    # aiohttp re-sends an idempotent request (ccxt sends Deribit's private/buy as GET) once when
    # the connection drops before the answer, reused or not: a create would be placed twice.
    # aiohttp's own test client switches this off the same way.
    session._retry_connection = False
    return create_exchange(settings, venue=venue, credentials=True, session=session)


async def close_exchange(exchange: Any) -> None:
    """Close a ccxt instance and any aiohttp session hedgebot handed to it."""
    handed_session = None if exchange.own_session else exchange.session
    await exchange.close()
    if handed_session is not None:
        await handed_session.close()


def override_endpoints(
    api: Any, *, exchange_id: str, rest_url: str | None, ws_url: str | None
) -> Any:
    """A copy of ccxt's ``urls['api']`` with REST and websocket origins replaced."""
    if exchange_id == "deribit":
        result = dict(api)
        if rest_url is not None:
            result["rest"] = _origin_and_prefix(rest_url).removesuffix(_DERIBIT_REST_SUFFIX)
        if ws_url is not None:
            result["ws"] = _rebase(_DERIBIT_WS_PATH, ws_url)
        return result
    return _walk(api, rest_url=rest_url, ws_url=ws_url)


def _walk(node: Any, *, rest_url: str | None, ws_url: str | None) -> Any:
    if isinstance(node, dict):
        return {k: _walk(v, rest_url=rest_url, ws_url=ws_url) for k, v in node.items()}
    if isinstance(node, str):
        if node.startswith(("http://", "https://")) and rest_url is not None:
            return _rebase(urlsplit(node).path, rest_url)
        if node.startswith(("ws://", "wss://")) and ws_url is not None:
            return _rebase(urlsplit(node).path, ws_url)
    return node


def _rebase(venue_path: str, override: str) -> str:
    """Override origin + prefix, then the venue's path unless the override already ends with it."""
    base = _origin_and_prefix(override)
    path = venue_path.rstrip("/")
    if path and base.endswith(path):
        return base
    return base + path


def _origin_and_prefix(url: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        raise ConfigError(f"endpoint override {url!r} must be an absolute URL")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _check_exchange_id(settings: VenueSettings, *, venue: str) -> None:
    if settings.exchange not in SUPPORTED_EXCHANGES:
        raise ConfigError(
            f"venues.{venue}.exchange: {settings.exchange!r} is not supported "
            f"(one of {', '.join(SUPPORTED_EXCHANGES)})"
        )


def _credentials(settings: VenueSettings, *, venue: str) -> dict[str, str]:
    key = read_secret(settings.api_key, settings.api_key_file)
    secret = read_secret(settings.api_secret, settings.api_secret_file)
    if key is None or secret is None:
        missing = "api_key" if key is None else "api_secret"
        raise ConfigError(
            f"venues.{venue}.{missing}: live trading needs credentials; set "
            f"HEDGEBOT__VENUES__{venue.upper()}__{missing.upper()} or {missing}_file"
        )
    credentials = {"apiKey": key.get_secret_value(), "secret": secret.get_secret_value()}
    password = read_secret(settings.api_password, settings.api_password_file)
    if settings.exchange in PASSPHRASE_EXCHANGES and password is None:
        raise ConfigError(
            f"venues.{venue}.api_password: {settings.exchange} keys have a passphrase; set "
            f"HEDGEBOT__VENUES__{venue.upper()}__API_PASSWORD or api_password_file"
        )
    if password is not None:
        credentials["password"] = password.get_secret_value()
    return credentials
