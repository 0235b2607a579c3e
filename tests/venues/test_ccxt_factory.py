"""ccxt instances are built from venue settings: endpoints, sandbox, keepalive and secrets."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr
from structlog.testing import capture_logs

from hedgebot.config import VenueSettings
from hedgebot.model.errors import ConfigError
from hedgebot.venues.ccxt.exchange_factory import (
    close_exchange,
    create_exchange,
    create_order_entry_exchange,
    override_endpoints,
)

SECRET = "s3cr3t-do-not-print"
LOCAL = "http://127.0.0.1:18765"


def _settings(**changes: object) -> VenueSettings:
    return VenueSettings.model_validate({"driver": "ccxt", "exchange": "deribit", **changes})


def test_deribit_endpoint_override_lands_in_urls_api_and_drops_test() -> None:
    """rest_url/ws_url replace Deribit's endpoints and no testnet URL is left to switch to."""
    exchange = create_exchange(
        _settings(rest_url=LOCAL, ws_url="ws://127.0.0.1:18765/ws/api/v2", sandbox=True),
        venue="deribit",
    )
    assert exchange.urls["api"] == {"rest": LOCAL, "ws": "ws://127.0.0.1:18765/ws/api/v2"}
    assert "test" not in exchange.urls
    signed = exchange.sign("get_instruments", ["public"], "GET", {"currency": "BTC"})
    assert signed["url"] == f"{LOCAL}/api/v2/public/get_instruments?currency=BTC"


def test_deribit_origin_only_override_keeps_the_ws_path() -> None:
    """An origin-only ws_url gets Deribit's /ws/api/v2; a rest_url ending in /api/v2 is trimmed."""
    api = override_endpoints(
        {"rest": "https://www.deribit.com", "ws": "wss://www.deribit.com/ws/api/v2"},
        exchange_id="deribit",
        rest_url=f"{LOCAL}/api/v2/",
        ws_url="ws://127.0.0.1:18765",
    )
    assert api == {"rest": LOCAL, "ws": "ws://127.0.0.1:18765/ws/api/v2"}


def test_binance_override_rebases_every_endpoint_and_keeps_paths() -> None:
    """Every Binance REST and websocket URL moves to the override origin with its own path."""
    exchange = create_exchange(
        _settings(exchange="binanceusdm", rest_url=LOCAL, ws_url="ws://127.0.0.1:18766"),
        venue="binance",
    )
    api = exchange.urls["api"]
    assert api["fapiPublic"] == f"{LOCAL}/fapi/v1"
    assert api["ws"]["linear"] == "ws://127.0.0.1:18766/ws"
    assert "test" not in exchange.urls

    def leaves(node: object) -> list[str]:
        if isinstance(node, dict):
            return [leaf for value in node.values() for leaf in leaves(value)]
        return [node] if isinstance(node, str) else []

    assert all(url.startswith((LOCAL, "ws://127.0.0.1:18766")) for url in leaves(api))


def test_sandbox_without_override_uses_the_venue_testnet() -> None:
    """sandbox = true without an override switches ccxt to the venue's test URLs."""
    exchange = create_exchange(_settings(sandbox=True), venue="deribit")
    assert exchange.urls["api"]["rest"] == "https://test.deribit.com"


def test_no_override_no_sandbox_is_production() -> None:
    """By default the production endpoints stay."""
    exchange = create_exchange(_settings(), venue="deribit")
    assert exchange.urls["api"]["rest"] == "https://www.deribit.com"


async def test_keepalive_reaches_the_websocket_client() -> None:
    """keepalive_ms is what ccxt's websocket client pings with (not the 30 s default)."""
    exchange = create_exchange(
        _settings(keepalive_ms=4321, ws_url="ws://127.0.0.1:1/ws/api/v2"), venue="d"
    )
    try:
        assert exchange.client("ws://127.0.0.1:1/ws/api/v2").keepAlive == 4321
    finally:
        await close_exchange(exchange)


def test_credentials_are_never_read_unless_asked(tmp_path: Path) -> None:
    """Paper mode builds an instance without touching the secret files (which may not exist)."""
    settings = _settings(
        api_key=SecretStr("key"),
        api_key_file=tmp_path / "missing-key",
        api_secret_file=tmp_path / "missing-secret",
    )
    exchange = create_exchange(settings, venue="deribit")
    assert not exchange.apiKey
    assert not exchange.secret
    with pytest.raises(ConfigError, match="missing-secret"):
        create_exchange(settings, venue="deribit", credentials=True)


def test_live_credentials_come_from_files_and_never_show(tmp_path: Path) -> None:
    """Secrets read from files reach ccxt but never its repr, the settings' repr or any log line."""
    (tmp_path / "key").write_text("my-key\n")
    (tmp_path / "secret").write_text(SECRET + "\n")
    settings = _settings(api_key_file=tmp_path / "key", api_secret_file=tmp_path / "secret")
    with capture_logs() as logs:
        exchange = create_exchange(settings, venue="deribit", credentials=True)
        from_env = settings.model_copy(update={"api_secret": SecretStr(SECRET)})
        structlog.get_logger().info("venue.settings", settings=from_env, dump=from_env.model_dump())
    assert (exchange.apiKey, exchange.secret) == ("my-key", SECRET)
    for text in (repr(from_env), str(from_env), repr(exchange), str(exchange), str(logs)):
        assert SECRET not in text


def test_missing_credentials_name_the_environment_variable() -> None:
    """Live mode without a secret fails with the variable to set."""
    with pytest.raises(ConfigError, match="HEDGEBOT__VENUES__DERIBIT__API_KEY"):
        create_exchange(_settings(), venue="deribit", credentials=True)


def test_unknown_exchange_is_a_config_error() -> None:
    """Only the supported ccxt ids are accepted."""
    with pytest.raises(ConfigError, match="kraken"):
        create_exchange(_settings(exchange="kraken"), venue="x")


async def test_order_entry_instance_never_reuses_connections() -> None:
    """The order-entry instance runs on a force-close aiohttp session that hedgebot closes."""
    settings = _settings(
        api_key=SecretStr("k"), api_secret=SecretStr(SECRET), rest_url=LOCAL, ws_url=LOCAL
    )
    exchange = create_order_entry_exchange(settings, venue="deribit")
    session = exchange.session
    assert exchange.own_session is False
    assert session.connector.force_close is True
    assert session._retry_connection is False, "aiohttp would re-send a dropped create"
    assert exchange.secret == SECRET
    await close_exchange(exchange)
    assert session.closed


def test_importing_the_gateway_does_not_import_ccxt() -> None:
    """`import hedgebot.venues.ccxt` stays cheap: ccxt is only loaded when an exchange is built."""
    code = "import sys, hedgebot.venues.ccxt; assert 'ccxt' not in sys.modules, 'ccxt imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_okx_needs_its_passphrase_and_gets_it_from_a_file(tmp_path: Path) -> None:
    """OKX keys have a passphrase: without it live mode stops naming the variable to set; from
    a file it reaches ccxt's ``password`` and passes ccxt's own credential check."""
    okx = _settings(exchange="okx", api_key=SecretStr("k"), api_secret=SecretStr("s"))
    with pytest.raises(ConfigError, match="HEDGEBOT__VENUES__OKX__API_PASSWORD"):
        create_exchange(okx, venue="okx", credentials=True)
    (tmp_path / "passphrase").write_text(SECRET + "\n")
    exchange = create_exchange(
        okx.model_copy(update={"api_password_file": tmp_path / "passphrase"}),
        venue="okx",
        credentials=True,
    )
    assert exchange.password == SECRET
    assert exchange.check_required_credentials(False) is True
    assert SECRET not in repr(okx.model_copy(update={"api_password": SecretStr(SECRET)}))


def test_a_passphrase_in_the_toml_file_is_refused(tmp_path: Path) -> None:
    from hedgebot.config import load_settings

    config = tmp_path / "hedgebot.toml"
    config.write_text(
        '[venues.okx]\ndriver = "ccxt"\nexchange = "okx"\napi_password = "x"\n'
        '[accounts.main]\nvenue = "okx"\n'
        '[hedges.BTC]\naccount = "main"\ninstrument = "BTC-USDT-SWAP"\n'
        'band = { kind = "fixed", half_width = 0.1 }\nmin_order = 0.01\nmax_order = 1.0\n'
        "max_position = 2.0\n"
    )
    with pytest.raises(ConfigError, match="api_password"):
        load_settings(config, environ={})
